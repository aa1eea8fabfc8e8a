/** Messages between the fuzz harness and its runner process. */
export type Outcome =
  /** A LoupeError (exit 1/2, or an error reply) naming the file or parameter at fault. */
  | 'clean'
  /** A LoupeError that names neither the file nor the parameter. */
  | 'unnamed'
  | 'success'
  /** Still running at the case budget, then stopped cleanly by a cancel. */
  | 'cancelled'
  /** A stack trace, an internal error, a wasm trap, a signal, an exit code other than 0-2, a write outside --out. */
  | 'crash'
  /** No answer, not even to a cancel, within the case's time. */
  | 'hang'
  /** The runner's process tree went over the memory budget. */
  | 'over-budget'
  /** Success, but a map holds NaN or infinity. */
  | 'nan';

export const OUTCOMES: readonly Outcome[] = ['clean', 'success', 'cancelled', 'unnamed', 'nan', 'crash', 'hang', 'over-budget'];

export interface CaseTask { index: number; seed: number; family: string }

export interface CaseResult {
  index: number;
  family: string;
  what: string;
  outcome: Outcome;
  detail: string;
  ms: number;
}
