/** A problem in a mapping definition, located by its path inside the mapping document. */
export interface CompileIssue {
  message: string;
  at: (string | number)[];
}
