import { describe, expect, it } from 'vitest';
import { recommend } from './db-tuning.js';

const GiB = 1024 ** 3;
const values = (memory: number) =>
  Object.fromEntries(recommend(memory).map((r) => [r.name, r.value]));

describe('recommend', () => {
  it("is the guide's settings on a 1 GiB server (and below)", () => {
    const guide = {
      shared_buffers: '256MB',
      effective_cache_size: '1GB',
      maintenance_work_mem: '64MB',
      checkpoint_completion_target: '0.9',
      wal_buffers: '16MB',
      default_statistics_target: '100',
    };
    expect(values(1 * GiB)).toEqual(guide);
    expect(values(0.5 * GiB)).toEqual(guide);
  });

  it('scales the memory settings with the host, maintenance_work_mem at most 2GB', () => {
    expect(values(8 * GiB)).toMatchObject({
      shared_buffers: '2GB',
      effective_cache_size: '6GB',
      maintenance_work_mem: '512MB',
    });
    expect(values(64 * GiB)).toMatchObject({
      shared_buffers: '16GB',
      effective_cache_size: '48GB',
      maintenance_work_mem: '2GB',
    });
    expect(values(3 * GiB)).toMatchObject({
      shared_buffers: '768MB',
      effective_cache_size: '2304MB',
    });
  });
});
