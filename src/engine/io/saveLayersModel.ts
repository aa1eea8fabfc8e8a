import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';

/**
 * Saves a tfjs-layers model as model.json + one weights.bin shard in `dir`
 * (the format tf.loadLayersModel reads), without tfjs-node's file:// handler.
 */
export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData
        ? Buffer.from(tf.io.concatenateArrayBuffers(
            Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData]))
        : Buffer.alloc(0);
      const modelJson = {
        format: 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      fs.writeFileSync(path.join(dir, 'weights.bin'), weightData);
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}
