/**
 * Where stored objects are read from, behind one small interface: S3 (GetObject, streamed), a local folder standing
 * in for a bucket (the local stack's watched folder), and an in-memory twin for tests.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { StixflowError } from '../errors.js';

export interface ObjectRef {
  bucket: string;
  key: string;
  /** The version the notification named (versioned buckets): the bytes the notification was about. */
  versionId?: string;
}

/** An object could not be read: `missing` when it is not there (deleted, or never written), else the store failed. */
export class ObjectReadError extends StixflowError {
  constructor(
    readonly missing: boolean,
    message: string,
    options?: ErrorOptions,
  ) {
    super(missing ? 'object-missing' : 'object-unreadable', message, [], options);
  }
}

export interface ObjectStore {
  /** The object's bytes as a stream; rejects with ObjectReadError. */
  open(ref: ObjectRef): Promise<Readable>;
}

/** S3 GetObject; the body is streamed as it arrives. */
export class S3ObjectStore implements ObjectStore {
  constructor(private readonly client: S3Client) {}

  async open(ref: ObjectRef): Promise<Readable> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          ...(ref.versionId !== undefined ? { VersionId: ref.versionId } : {}),
        }),
      );
      const body = response.Body;
      if (body instanceof Readable) return body;
      if (body === undefined) return Readable.from([]);
      // Other runtimes hand a web stream; Node's SDK build gives a Readable.
      return Readable.fromWeb(
        (body as { transformToWebStream(): import('node:stream/web').ReadableStream }).transformToWebStream(),
      );
    } catch (error) {
      const name = error instanceof Error ? error.name : 'unknown';
      const missing = name === 'NoSuchKey' || name === 'NoSuchVersion' || name === 'NotFound';
      throw new ObjectReadError(missing, `s3://${ref.bucket}/${ref.key}: ${name}`, { cause: error });
    }
  }
}

/** A folder read as a bucket: the key is the path under the folder (the bucket name is not used). */
export class DirectoryObjectStore implements ObjectStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async open(ref: ObjectRef): Promise<Readable> {
    const path = resolve(this.root, ref.key);
    const inside = relative(this.root, path);
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside))
      throw new ObjectReadError(true, `${ref.key}: not a file under the watched folder`);
    try {
      if (!(await stat(path)).isFile()) throw new ObjectReadError(true, `${ref.key}: not a file`);
    } catch (error) {
      if (error instanceof ObjectReadError) throw error;
      throw new ObjectReadError(true, `${ref.key}: ${(error as { code?: string }).code ?? 'unreadable'}`, {
        cause: error,
      });
    }
    return createReadStream(path);
  }
}

/** The in-memory twin: objects put by tests, optionally read in small chunks (as a network stream arrives). */
export class InMemoryObjectStore implements ObjectStore {
  private readonly objects = new Map<string, Buffer>();
  /** Objects opened, in order (tests check which were read again). */
  readonly opened: ObjectRef[] = [];

  constructor(private readonly chunkBytes = 64 * 1024) {}

  private static keyOf(bucket: string, key: string, versionId?: string): string {
    return `${bucket}\u0000${key}\u0000${versionId ?? ''}`;
  }

  put(bucket: string, key: string, body: string | Buffer, versionId?: string): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    this.objects.set(InMemoryObjectStore.keyOf(bucket, key), bytes);
    if (versionId !== undefined) this.objects.set(InMemoryObjectStore.keyOf(bucket, key, versionId), bytes);
  }

  delete(bucket: string, key: string): void {
    this.objects.delete(InMemoryObjectStore.keyOf(bucket, key));
  }

  async open(ref: ObjectRef): Promise<Readable> {
    this.opened.push(ref);
    const bytes = this.objects.get(InMemoryObjectStore.keyOf(ref.bucket, ref.key, ref.versionId));
    if (bytes === undefined) throw new ObjectReadError(true, `s3://${ref.bucket}/${ref.key}: NoSuchKey`);
    const size = this.chunkBytes;
    return Readable.from(
      (function* () {
        for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
      })(),
      { objectMode: false },
    );
  }
}
