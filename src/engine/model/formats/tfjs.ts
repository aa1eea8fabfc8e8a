import { readModelFiles } from '../../io/modelFiles';
import { graphModelToGraph } from '../fromGraph';
import { layersModelToGraph } from '../fromLayers';
import type { ModelLoader } from './types';

/** TF.js model.json + weight shards: a Layers model (rebuilt from tfjs-layers) or a Graph model (converter ops). */
export const tfjsLoader: ModelLoader = {
  kind: 'tfjs',
  async load(file) {
    const files = readModelFiles(file);
    if (files.format === 'graph') return { graph: graphModelToGraph(files), fingerprintParts: files.fingerprintParts, layout: 'NHWC' };
    const { graph, model } = await layersModelToGraph(files);
    return { graph, fingerprintParts: files.fingerprintParts, layout: 'NHWC', release: () => model.dispose() };
  },
};
