// Types for s3rver, which ships none: only what the tests use.
declare module 's3rver' {
  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory: string;
    configureBuckets?: Array<{ name: string; configs: unknown[] }>;
    /** Both set: HTTPS. */
    key?: Buffer;
    cert?: Buffer;
  }
  export interface S3rverListOptions {
    delimiter?: string;
    prefix?: string;
    startAfter?: string;
    maxKeys?: number;
  }
  export interface S3rverListResult {
    objects: Array<{ key: string }>;
    commonPrefixes: string[];
    isTruncated: boolean;
  }
  /** The filesystem store behind the server (lib/stores/filesystem.js). */
  export interface S3rverStore {
    listObjects(bucket: string, options: S3rverListOptions): Promise<S3rverListResult>;
  }
  export default class S3rver {
    constructor(options: S3rverOptions);
    readonly store: S3rverStore;
    run(): Promise<unknown>;
    close(): Promise<void>;
  }
}
