/** The shared control words of the parameterisation's helper thread (paramThreads.ts, paramThreadMain.ts). */
export const CONTROL = {
  /** The sequence number of the last job the helper finished. */
  done: 0,
  /** 1 when that job threw. */
  failed: 1,
  /** How many jobs the caller has posted. */
  posted: 2,
  length: 3,
} as const;
