// The readers of pgbackrest's output, on output pgBackRest 2.45 printed (the integration test in
// test/backup/pgbackrest.test.ts runs them against the real tool).
import { describe, expect, it } from 'vitest';
import { parseInfo, parseProgressLine, parseVerify, restoredLabel } from './pgbackrest-output.js';

const backup = (label: string, type: string, prior: string | null, start: number) => ({
  archive: { start: '000000010000000000000003', stop: '000000010000000000000003' },
  backrest: { format: 5, version: '2.45' },
  database: { id: 1, 'repo-key': 1 },
  error: false,
  info: { delta: 23213795, repository: { delta: 2849248, size: 2849248 }, size: 23213795 },
  label,
  lsn: { start: '0/3000028', stop: '0/3000100' },
  prior,
  reference: prior ? [prior] : null,
  timestamp: { start, stop: start + 5 },
  type,
});

const info = (
  status = { code: 0, message: 'ok' },
  backups = [backup('20261201-114146F', 'full', null, 1796125306)],
) =>
  JSON.stringify([
    {
      archive: [
        {
          database: { id: 1, 'repo-key': 1 },
          id: '15-1',
          max: '000000010000000000000006',
          min: '000000010000000000000001',
        },
      ],
      backup: backups,
      cipher: 'aes-256-cbc',
      db: [{ id: 1, 'repo-key': 1, 'system-id': 1, version: '15' }],
      name: 'cfn',
      repo: [{ cipher: 'aes-256-cbc', key: 1, status: { code: 0, message: 'ok' } }],
      status: { code: status.code, lock: { backup: { held: false } }, message: status.message },
    },
    // A system id as pgBackRest prints it: beyond a double's precision, and never read.
  ]).replace('"system-id":1', '"system-id":7714299129985850136');

describe('pgbackrest output', () => {
  it('reads the stanza of `info --output=json`', () => {
    const r = parseInfo(
      info(undefined, [
        backup('20261201-114146F', 'full', null, 1796125306),
        backup('20261201-114146F_20261201-114320I', 'incr', '20261201-114146F', 1796125400),
      ]),
      'cfn',
    );
    expect(r).toMatchObject({
      name: 'cfn',
      cipher: 'aes-256-cbc',
      wal: { min: '000000010000000000000001', max: '000000010000000000000006' },
    });
    expect(r.backups).toEqual([
      {
        label: '20261201-114146F',
        kind: 'full',
        prior: null,
        startedAt: new Date(1796125306_000),
        stoppedAt: new Date(1796125311_000),
        databaseBytes: 23213795,
        repositoryBytes: 2849248,
        walStart: '000000010000000000000003',
        walStop: '000000010000000000000003',
      },
      expect.objectContaining({ kind: 'incr', prior: '20261201-114146F' }),
    ]);
  });

  it('accepts a stanza without backups, and names a missing one', () => {
    expect(parseInfo(info({ code: 2, message: 'no valid backups' }, []), 'cfn').backups).toEqual(
      [],
    );
    expect(() => parseInfo(info({ code: 1, message: 'missing stanza path' }), 'cfn')).toThrow(
      'stanza cfn: missing stanza path (create it with `pgbackrest --stanza=cfn stanza-create`)',
    );
    expect(() => parseInfo(info(), 'other')).toThrow('does not list stanza other');
    // What 2.45 prints with a wrong PGBACKREST_REPO1_CIPHER_PASS (with a raw control character).
    const wrongPass = JSON.stringify([
      {
        archive: [],
        backup: [],
        cipher: 'aes-256-cbc',
        db: [],
        name: 'cfn',
        repo: [
          {
            cipher: 'aes-256-cbc',
            key: 1,
            status: {
              code: 99,
              message:
                "[FormatError] unable to load info file '/cfn/backup/cfn/backup.info' or '/cfn/backup/cfn/backup.info.copy':\nFormatError: key/value found outside of section at line 1: ,\u0007\ufffd\ufffdha 7_\nFormatError: key/value found outside of section at line 1: ,\u0007\ufffd\ufffdha 7_\nHINT: has a stanza-create been performed?",
            },
          },
        ],
        status: { code: 99, lock: { backup: { held: false } }, message: 'other' },
      },
    ]);
    expect(() => parseInfo(wrongPass, 'cfn')).toThrow(
      "stanza cfn: other\nrepo1: [FormatError] unable to load info file '/cfn/backup/cfn/backup.info' or " +
        "'/cfn/backup/cfn/backup.info.copy':\nHINT: has a stanza-create been performed?\n" +
        'HINT: a wrong PGBACKREST_REPO1_CIPHER_PASS fails this way too.',
    );
    expect(() => parseInfo('WARN: no JSON', 'cfn')).toThrow('did not print JSON');
  });

  it('reads a clean and a damaged `verify --output=text --verbose`', () => {
    const ok = parseVerify(`stanza: cfn
status: ok
  archiveId: 15-1, total WAL checked: 6, total valid WAL: 6
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: 20261201-114146F, status: valid, total files checked: 964, total valid files: 964
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
`);
    expect(ok).toMatchObject({
      ok: true,
      archives: [{ id: '15-1', checked: 6, valid: 6 }],
      backups: [{ label: '20261201-114146F', status: 'valid', checked: 964, valid: 964 }],
    });
    const bad = parseVerify(`stanza: cfn
status: error
  archiveId: none found
  backup: 20261201-114146F, status: invalid, total files checked: 964, total valid files: 963
    missing: 0, checksum invalid: 1, size invalid: 0, other: 0
`);
    expect(bad.ok).toBe(false);
    expect(bad.archives).toEqual([]);
    expect(bad.backups[0]).toEqual({
      label: '20261201-114146F',
      status: 'invalid',
      checked: 964,
      valid: 963,
    });
    expect(() => parseVerify('')).toThrow('printed no status');
  });

  it('reads progress from console lines', () => {
    expect(
      parseProgressLine(
        '2026-12-01 11:43:21.373 P01 DETAIL: backup file /pg/data/base/5/16389 (3.5MB, 64.67%) checksum be2e94f3',
      ),
    ).toEqual({
      message: 'backup file /pg/data/base/5/16389 (3.5MB, 64.67%) checksum be2e94f3',
      percent: 64.67,
    });
    expect(
      parseProgressLine(
        '2026-12-01 11:43:21.941 P00   INFO: backup stop archive = 0000000100000005',
      ),
    ).toEqual({ message: 'backup stop archive = 0000000100000005' });
    expect(
      parseProgressLine('2026-12-01 11:43:22.093 P00 DETAIL: statistics: {"http.client":{}}'),
    ).toBeUndefined();
    expect(parseProgressLine('not a log line')).toBeUndefined();
  });

  it('finds the backup set a restore used', () => {
    expect(
      restoredLabel([
        '2026-12-01 11:43:30.708 P00   INFO: restore command begin 2.45: --stanza=cfn',
        '2026-12-01 11:43:30.731 P00   INFO: repo1: restore backup set 20261201-114146F_20261201-114320I, recovery will start at 2026-12-01 11:43:20',
      ]),
    ).toBe('20261201-114146F_20261201-114320I');
    expect(restoredLabel([])).toBeNull();
  });
});
