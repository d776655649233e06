// Application data backups: settings (secrets only on request), agent files and the data
// directory without the database round-trip through an encrypted archive.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backupTools, KEY_A, openRuntime, tempDir } from './harness.js';

describe('app-data backups', () => {
  it('round-trip settings, agents and data files; secrets only with includeSecrets', async () => {
    const agents = tempDir('cfn-agents-');
    fs.mkdirSync(path.join(agents, 'team'));
    const agentFile = '---\nname: my-coder\ndescription: writes code\n---\nYou write code.\n';
    fs.writeFileSync(path.join(agents, 'team', 'my-coder.md'), agentFile);
    const { runtime, env } = await openRuntime('pglite', {
      CFN_AGENTS_DIR: agents,
      BACKUP_ENCRYPTION_KEY: KEY_A,
      OPENAI_API_KEY: 'sk-secret-value',
      CFN_MAX_CONCURRENT_AGENTS: '3',
    });
    const dataDir = env.CFN_DATA_DIR!;
    fs.mkdirSync(path.join(dataDir, 'workspaces', 'w1'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'workspaces', 'w1', 'notes.txt'), 'hello\n');

    const tools = backupTools(runtime, env);
    const plain = await tools.create({ type: 'app-data' });
    expect(plain.appData?.entries).toEqual(
      expect.arrayContaining(['config/settings.json', 'agents', 'data/workspaces']),
    );
    expect(plain.appData?.entries.some((e) => e.startsWith('data/pglite'))).toBe(false);
    expect((await tools.verify(plain.id)).entries).toBeGreaterThan(3);

    const out = tempDir('cfn-restored-');
    const r = await tools.restoreAppData(plain.id, out);
    expect(r.entries).toBeGreaterThan(3);
    expect(fs.readFileSync(path.join(out, 'agents', 'team', 'my-coder.md'), 'utf8')).toBe(
      agentFile,
    );
    expect(fs.readFileSync(path.join(out, 'data', 'workspaces', 'w1', 'notes.txt'), 'utf8')).toBe(
      'hello\n',
    );
    const settings = JSON.parse(fs.readFileSync(path.join(out, 'config', 'settings.json'), 'utf8'));
    expect(settings.CFN_MAX_CONCURRENT_AGENTS).toBe('3');
    expect(JSON.stringify(settings)).not.toContain('sk-secret-value');
    expect(fs.existsSync(path.join(out, 'config', 'secrets.json'))).toBe(false);
    await expect(tools.restoreAppData(plain.id, out)).rejects.toThrow(/is not empty/);

    const withSecrets = await tools.create({ type: 'app-data', includeSecrets: true });
    const out2 = tempDir('cfn-restored-');
    await tools.restoreAppData(withSecrets.id, out2);
    const secrets = JSON.parse(fs.readFileSync(path.join(out2, 'config', 'secrets.json'), 'utf8'));
    expect(secrets.OPENAI_API_KEY).toBe('sk-secret-value');
    expect(secrets.BACKUP_ENCRYPTION_KEY).toBe(KEY_A);
  });
});
