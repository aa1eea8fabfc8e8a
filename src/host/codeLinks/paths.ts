import { EXCLUDED_GLOB } from '../codeIndex';

/** The folder names in the code index's EXCLUDED_GLOB (`**\/{a,b}/**`), for paths that come from watchers and saves. */
export const EXCLUDED_FOLDERS: ReadonlySet<string> = new Set(/\{([^}]*)\}/.exec(EXCLUDED_GLOB)?.[1]?.split(',') ?? []);

/** `path` is workspace-relative (or absolute); true when none of its folders is excluded from indexing. */
export function isIndexedPath(path: string): boolean {
  const segments = path.split(/[\\/]/);
  return !segments.slice(0, -1).some((s) => EXCLUDED_FOLDERS.has(s));
}
