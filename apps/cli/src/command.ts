/** A subcommand of `unias`. Commands load lazily, so `unias metrics` never loads a runtime it does not use. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Full help text, shown by `unias <name> --help`. */
  readonly usage: string;
  run(argv: readonly string[]): Promise<number | void>;
}

export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<Command>;
}
