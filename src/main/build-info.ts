// Version from package.json and commit from dist/build-info.json (written by the build), so
// app_build_info and /health name exactly what runs.
import fs from 'node:fs';

export interface BuildInfo {
  version: string;
  commit: string;
}

function readJson(url: URL): Record<string, unknown> | undefined {
  try {
    return JSON.parse(fs.readFileSync(url, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function readBuildInfo(commitOverride?: string): BuildInfo {
  // src/main/ and dist/main/ both sit two levels below the package root.
  const pkg = readJson(new URL('../../package.json', import.meta.url));
  const built = readJson(new URL('../build-info.json', import.meta.url));
  return {
    version: typeof pkg?.version === 'string' ? pkg.version : '0.0.0',
    commit: commitOverride ?? (typeof built?.commit === 'string' ? built.commit : 'unknown'),
  };
}
