// Memory, CPU and disk usage read from the real system for the memory/cpu/disk_usage_percent
// gauges. Memory honours a cgroup v2 limit when the process runs inside one (a container).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function readFileOrUndefined(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Percent of memory in use: of the cgroup limit when one is set, else of the host. */
export function memoryUsagePercent(): number {
  const limit = readFileOrUndefined('/sys/fs/cgroup/memory.max')?.trim();
  const current = readFileOrUndefined('/sys/fs/cgroup/memory.current')?.trim();
  if (limit && current && limit !== 'max') {
    const l = Number(limit);
    const c = Number(current);
    if (l > 0 && Number.isFinite(c) && l < os.totalmem()) return (c / l) * 100;
  }
  const meminfo = readFileOrUndefined('/proc/meminfo');
  const total = os.totalmem();
  const available = meminfo?.match(/^MemAvailable:\s+(\d+) kB/m)?.[1];
  const free = available ? Number(available) * 1024 : os.freemem();
  return total > 0 ? ((total - free) / total) * 100 : 0;
}

interface CpuSample {
  idle: number;
  total: number;
}

function sampleCpu(): CpuSample {
  let idle = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

/** Busy share of all CPUs between successive calls (the first call measures since creation). */
export function createCpuUsageMeter(): () => number {
  let last = sampleCpu();
  return () => {
    const now = sampleCpu();
    const total = now.total - last.total;
    const idle = now.idle - last.idle;
    if (total <= 0) return 0;
    last = now;
    return Math.min(100, Math.max(0, ((total - idle) / total) * 100));
  };
}

/** Percent of the filesystem holding `dir` that is used (as `df` counts it). */
export async function diskUsagePercent(dir: string): Promise<number> {
  let target = dir;
  // The data directory may not exist yet: measure the nearest existing parent.
  while (!fs.existsSync(target) && path.dirname(target) !== target) target = path.dirname(target);
  const s = await fs.promises.statfs(target);
  const used = s.blocks - s.bfree;
  const denominator = used + s.bavail;
  return denominator > 0 ? (used / denominator) * 100 : 0;
}
