// The Feature Visualization and Building Blocks panels without VS Code: message guards (everything a webview
// sends is untrusted), the host's choice of a unit's picture, and what the Building Blocks page draws.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { imageFile, unitOf } from '../src/host/featureVis/pictures';
import type { BlocksResult } from '../src/protocol/blocks';
import { isBlocksPanelState, isFromBlocksWebview, MAX_EXPORT_URL } from '../src/protocol/blocksWebview';
import { isFromDissectWebview } from '../src/protocol/dissectWebview';
import type { FeatureVisParams } from '../src/protocol/featureVis';
import { isFeatureVisPanelState, isFromFeatureVisWebview } from '../src/protocol/featureVisWebview';
import { extremeChannels, groupChannels, groupOverlay, positionAt, toPicture } from '../webview/blocks/maps';

test('the panels\' guards accept well-formed messages and refuse everything else', () => {
  for (const m of [{ type: 'ready' }, { type: 'recompute' }, { type: 'openLayer', layer: 'relu4' }]) assert.ok(isFromFeatureVisWebview(m), JSON.stringify(m));
  for (const m of [{ type: 'recompute', extra: 1 }, { type: 'openLayer', layer: '' }, { type: 'openLayer', layer: 'x'.repeat(600) }, { type: 'run' }, null, 'ready']) {
    assert.ok(!isFromFeatureVisWebview(m), JSON.stringify(m));
  }
  assert.ok(isFeatureVisPanelState({ modelPath: '/m/model.json', layer: 'relu4', unit: 3 }));
  assert.ok(!isFeatureVisPanelState({ modelPath: '/m/model.json', layer: 'relu4', unit: -1 }));
  assert.ok(!isFeatureVisPanelState({ modelPath: '/m/model.json', layer: 'relu4', unit: 3, more: true }));

  const request = { layer: 'relu4', groups: 6, classIndex: 2, versusClass: 0, toLayer: 'relu6' };
  for (const m of [{ type: 'ready' }, { type: 'visualizeGroups' }, { type: 'activationGrid' }, { type: 'rerun', request },
    { type: 'rerun', request: { layer: 'relu4', groups: 1 } }, { type: 'visualizeUnit', unit: 5 }, { type: 'export', format: 'json' },
    { type: 'export', format: 'png', png: 'data:image/png;base64,AAAA' }]) {
    assert.ok(isFromBlocksWebview(m), JSON.stringify(m));
  }
  for (const m of [{ type: 'rerun', request: { ...request, groups: 0 } }, { type: 'rerun', request: { ...request, groups: 65 } },
    { type: 'rerun', request: { ...request, classIndex: -1 } }, { type: 'rerun', request: { ...request, shell: 'rm' } },
    { type: 'export', format: 'png', png: 'javascript:alert(1)' }, { type: 'export', format: 'png', png: `data:image/png;base64,${'A'.repeat(MAX_EXPORT_URL)}` },
    { type: 'export', format: 'svg' }, { type: 'visualizeUnit', unit: 1.5 }]) {
    assert.ok(!isFromBlocksWebview(m), JSON.stringify(m).slice(0, 120));
  }
  assert.ok(isBlocksPanelState({ modelPath: '/m', imagePath: '/i.png', request }));
  assert.ok(!isBlocksPanelState({ modelPath: '/m', imagePath: '/i.png', request: { groups: 6 } }));
  assert.ok(isFromDissectWebview({ type: 'visualizeUnit', unit: 4 }));
  assert.ok(!isFromDissectWebview({ type: 'visualizeUnit', unit: '4' }));
});

test('a unit\'s picture is its default render only; an image name that would leave its folder is refused', () => {
  const params = { batch: 1 } as FeatureVisParams;
  assert.deepEqual(unitOf({ objective: [{ kind: 'channel', layer: 'l', unit: 3 }], params }), { layer: 'l', unit: 3 });
  assert.equal(unitOf({ objective: [{ kind: 'channel', layer: 'l', unit: 3, weight: 2 }], params }), undefined);
  assert.equal(unitOf({ objective: [{ kind: 'neuron', layer: 'l', unit: 3 }], params }), undefined);
  assert.equal(unitOf({ objective: [{ kind: 'channel', layer: 'l', unit: 3 }, { kind: 'diversity', layer: 'l', weight: -100 }], params: { batch: 4 } as FeatureVisParams }), undefined);
  assert.equal(imageFile({ dir: '/c/e', image: 'image.png' }), '/c/e/image.png');
  for (const bad of ['../x.png', '/etc/x.png', 'a/b.png', 'image.svg', '']) assert.equal(imageFile({ dir: '/c/e', image: bad }), undefined, bad);
});

test('the Building Blocks page maps pointer to position, upsamples maps, colours groups and ranks channels', () => {
  assert.deepEqual(positionAt(0, 0, { width: 64, height: 64 }, 16, 16), { y: 0, x: 0 });
  assert.deepEqual(positionAt(63.9, 20, { width: 64, height: 64 }, 16, 16), { y: 5, x: 15 });
  assert.deepEqual(positionAt(200, -5, { width: 64, height: 64 }, 16, 16), { y: 0, x: 15 });
  const up = toPicture([1, 2, 3, 4], 2, 2, 4, 4);
  assert.deepEqual(Array.from(up), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  assert.deepEqual(extremeChannels([0.5, -2, 3, 0, -0.1], 2), { top: [2, 0], bottom: [1, 4] });
  assert.deepEqual(groupChannels([0, 0.2, 0.9, 0.1], 2), [2, 1]);
  // Two groups on a 1×2 layer: the left pixel takes group 0's colour, the right group 1's.
  const result = { layerShape: [1, 2, 3], groups: { spatial: [[1, 0], [0, 2]] } } as unknown as BlocksResult;
  const gray = new Uint8Array([100, 100, 100, 255, 100, 100, 100, 255]);
  const out = groupOverlay(result, gray, 2, 1);
  assert.notDeepEqual(Array.from(out.slice(0, 3)), Array.from(out.slice(4, 7)));
  const onlyOne = groupOverlay(result, gray, 2, 1, 1);
  assert.deepEqual(Array.from(onlyOne.slice(0, 3)), [100, 100, 100], 'a focused group leaves the others\' pixels gray');
});
