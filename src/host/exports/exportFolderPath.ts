/**
 * Where exported maps go: the `loupe.exportFolder` setting (default `loupe-exports`), relative to the
 * image's workspace folder or absolute. Exports land there instead of beside the image, so they never
 * show up as images to explain. Pure (no `vscode`): tested in Node.
 */
import * as path from 'node:path';

export const DEFAULT_EXPORT_FOLDER = 'loupe-exports';

/** The export folder for a workspace folder (`root`), or for the image's own folder when it is outside every workspace folder. */
export function exportFolderPath(setting: unknown, root: string | undefined, imageDir: string): string {
  const value = typeof setting === 'string' && setting.trim() ? setting.trim() : DEFAULT_EXPORT_FOLDER;
  if (path.isAbsolute(value)) return path.normalize(value);
  return path.resolve(root ?? imageDir, value);
}

/** True when `file` lies inside `folder` (at any depth). */
export function isInside(file: string, folder: string): boolean {
  const rel = path.relative(folder, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}
