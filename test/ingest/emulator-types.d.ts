/** The parts of the pure-JavaScript emulators' APIs the tests use (the packages ship no types). */
declare module 's3rver' {
  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    configureBuckets?: { name: string }[];
  }
  export default class S3rver {
    constructor(options: S3rverOptions);
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  }
}

declare module 'kinesalite' {
  interface KinesaliteOptions {
    createStreamMs?: number;
    deleteStreamMs?: number;
    updateStreamMs?: number;
    shardLimit?: number;
  }
  interface KinesaliteServer {
    listen(port: number, host: string, callback: (error?: Error) => void): void;
    address(): { port: number };
    close(callback: (error?: Error) => void): void;
  }
  export default function kinesalite(options?: KinesaliteOptions): KinesaliteServer;
}
