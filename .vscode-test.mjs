// @vscode/test-cli: runs test/integration inside a downloaded VS Code (needs internet access to
// update.code.visualstudio.com). On machines without it, `npm test` runs the code-server e2e suite instead.
import { defineConfig } from '@vscode/test-cli';

export default defineConfig({
  files: 'out/integration/**/*.test.js',
  workspaceFolder: './demo',
  mocha: { ui: 'tdd', timeout: 120000 },
});
