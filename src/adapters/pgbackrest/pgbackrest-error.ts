// A pgbackrest run that failed: which command, how it ended (exit 0: it printed something
// unusable), and pgBackRest's own error lines.
import { AppError } from '../../domain/errors.js';

export class PgBackRestError extends AppError {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    detail: string,
  ) {
    const how = exitCode === 0 ? '' : ` (${exitCode === null ? 'killed' : `exit ${exitCode}`})`;
    super('INTERNAL', `pgbackrest ${command} failed${how}: ${detail}`);
    this.name = 'PgBackRestError';
  }
}
