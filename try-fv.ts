import { Engine } from './src/engine/engine';
import * as fs from 'node:fs';
(async () => {
  const engine = await Engine.create({ backend: 'wasm', cacheDir: '/tmp/fv/cache3' });
  let t = performance.now();
  const r = await engine.blocks('demo/shapes/model/model.json', 'demo/images/shape-1-cross.jpg', { layer: 'relu4', toLayer: 'relu6' });
  console.log('blocks ms', (performance.now() - t).toFixed(0), r.score, r.predictions[0], r.channel.integratedSum, r.channel.scoreDifference, r.groups.relativeError, r.groups.iterations, r.notes);
  console.log(r.dictionary[0], r.start, r.groups.attribution);
  t = performance.now();
  const g = await engine.activationGrid('demo/shapes/model/model.json', 'demo/images/shape-1-cross.jpg', { layer: 'relu6', steps: Number(process.argv[2] ?? 32), positionsPerStep: 32 }, { onProgress: (f, m) => { if (Math.round(f * 100) % 25 === 0) console.log(m); } });
  console.log('grid ms', (performance.now() - t).toFixed(0), g.rows, g.cols, g.cellSize);
  fs.writeFileSync('/tmp/fv/grid.png', Buffer.from(g.png, 'base64'));
  engine.lanes.stop();
})();
