/** A subcommand of `unias`. Commands load lazily, so `unias metrics` never loads a runtime it does not use. */
export interface Command {
  readonly name: string;
  /** Full help text, shown by `unias <name> --help`. */
  readonly usage: string;
  run(argv: readonly string[]): Promise<number | void>;
}

export interface CommandEntry {
  readonly name: string;
  /** One line for `unias --help` (kept here, not in the command module, so help loads nothing). */
  readonly summary: string;
  load(): Promise<Command>;
}
