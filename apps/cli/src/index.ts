export { main, COMMANDS, helpText } from './main.js';
export { UserError, UsageError } from './errors.js';
export type { Command, CommandEntry } from './command.js';
