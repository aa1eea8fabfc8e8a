// Code links for unnamed Keras layers. The oracle is Keras's naming rule: an unnamed layer is named
// by its class in snake_case and a per-class counter over the Python session, in creation order
// (`conv2d`, `conv2d_1`, …; explicitly named layers do not count). Every expected link below was worked
// out by hand from the source text and that rule, not taken from a run of the code.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { LayerIndex, linkByCreationOrder, rankDefinitions, scanKerasAutoCalls, type ModelLayerRef } from '../src/host/codeIndex/index';
import { loadModel } from '../src/engine/model/loader';
import { kerasSnakeCase } from '../src/protocol/kerasNaming';
import { KERAS_FIXTURES_MISSING, kerasFixture } from './helpers/kerasFixtures';

const DEMO_SCRIPT = path.resolve('demo/keras/train.py');

const links = (src: string, layers: ModelLayerRef[]) => {
  const r = linkByCreationOrder(scanKerasAutoCalls(src), layers);
  return {
    links: r.links.map((l) => `${l.call.line}:${l.layer}`).sort(),
    how: new Map(r.links.map((l) => [l.layer, l.how])),
    unlinked: r.unlinked.map((u) => `${u.call.line}:${u.call.className}: ${u.why}`),
  };
};
const model = (...names: string[]): ModelLayerRef[] => names.map((n) => {
  const [name, className] = n.split(':');
  return { name: name!, className: className! };
});

test("Keras's snake_case, as keras.src.utils.naming.to_snake_case spells classes", () => {
  assert.deepEqual(['Conv2D', 'MaxPooling2D', 'BatchNormalization', 'ReLU', 'PReLU', 'GlobalAveragePooling2D', 'Dense', 'Conv2DTranspose']
    .map(kerasSnakeCase), ['conv2d', 'max_pooling2d', 'batch_normalization', 're_lu', 'p_re_lu', 'global_average_pooling2d', 'dense', 'conv2d_transpose']);
});

test('the demo script and the Keras-saved model: every layer line links, by creation order, numbering from conv2d_2', { skip: KERAS_FIXTURES_MISSING }, async () => {
  const m = await loadModel(path.resolve(kerasFixture('mnist_cnn.keras')));
  try {
    const r = links(fs.readFileSync(DEMO_SCRIPT, 'utf8'), m.description.layers);
    // 0-based lines of demo/keras/train.py: 17 Input, 18 Conv2D, 19 MaxPooling2D, 20 Conv2D, 21 MaxPooling2D,
    // 22 Flatten, 23 Dense, 24 Dropout, 25 Dense; the model's names are the notebook's (second build in its session).
    assert.deepEqual(r.links, ['17:input_layer_1', '18:conv2d_2', '19:max_pooling2d_2', '20:conv2d_3', '21:max_pooling2d_3',
      '22:flatten_1', '23:dense_2', '24:dropout_1', '25:dense_3'].sort());
    assert.deepEqual(r.unlinked, []);
    assert.equal(m.description.layers.length, r.links.length, 'every layer of the model has its line');
    assert.match(r.how.get('conv2d_3')!, /^creation order: the 2nd of the 2 unnamed Conv2D\( calls run by build_model\(\) \(called once from the module's top level\) is the model's conv2d_3 \(Keras numbered this model's Conv2D layers from conv2d_2: others were created earlier in the same Python session\)$/);
    assert.match(r.how.get('flatten_1')!, /the only unnamed Flatten\( call/);
  } finally {
    m.dispose();
  }
});

test('Sequential list, model.add and the functional API; explicit names do not count; nested calls run inner first', () => {
  const src = [
    'from tensorflow import keras',                                    // 0
    'from tensorflow.keras.layers import Conv2D, Dense, add',         // 1
    'from tensorflow.keras import layers as L',                        // 2
    'inputs = keras.Input(shape=(32, 32, 3))',                         // 3
    'x = Conv2D(8, 3, name="stem")(inputs)',                           // 4  explicit: no number used
    'y = Conv2D(8, 3)(x)',                                             // 5  conv2d
    'z = add([x, L.Conv2D(8, 1)(y)])',                                 // 6  conv2d_1 (the argument runs before add) → add
    'out = Dense(10)(L.Flatten()(z))',                                 // 7  dense runs first (callee), then flatten
    'model = keras.Model(inputs, out)',                                // 8
  ].join('\n');
  const layers = model('input_1:InputLayer', 'stem:Conv2D', 'conv2d:Conv2D', 'conv2d_1:Conv2D', 'add:Add', 'flatten:Flatten', 'dense:Dense');
  const r = links(src, layers);
  assert.deepEqual(r.links, ['3:input_1', '5:conv2d', '6:conv2d_1', '6:add', '7:flatten', '7:dense'].sort());
  const seq = [
    'import keras',
    'model = keras.Sequential()',
    'model.add(keras.layers.Dense(4))',    // 2 dense
    'model.add(keras.layers.Dense(4))',    // 3 dense_1
  ].join('\n');
  assert.deepEqual(links(seq, model('dense:Dense', 'dense_1:Dense')).links, ['2:dense', '3:dense_1']);
});

test('ambiguous order is said, not guessed: loops, comprehensions, helpers called twice, two models in one builder, counts that differ', () => {
  const loop = [
    'from keras import layers, Sequential',
    'model = Sequential()',
    'for f in (16, 32):',
    '    model.add(layers.Conv2D(f, 3))',       // 3: in a loop
    'model.add(layers.Flatten())',              // 4: still linkable
  ].join('\n');
  let r = links(loop, model('conv2d:Conv2D', 'conv2d_1:Conv2D', 'flatten:Flatten'));
  assert.deepEqual(r.links, ['4:flatten']);
  assert.deepEqual(r.unlinked, ['3:Conv2D: it is built in a loop (the for on line 3)']);

  const comprehension = 'from keras import layers, Sequential\nmodel = Sequential([layers.Dense(4) for _ in range(3)] + [layers.Flatten()])';
  r = links(comprehension, model('dense:Dense', 'dense_1:Dense', 'dense_2:Dense', 'flatten:Flatten'));
  assert.deepEqual(r.links, ['1:flatten']);
  assert.deepEqual(r.unlinked, ['1:Dense: it is built in a comprehension (a loop)']);

  const helper = [
    'from keras import layers, Model, Input',
    'def block(x):',
    '    return layers.Conv2D(8, 3)(x)',        // 2: built by block(), called twice
    'inp = Input((8, 8, 1))',
    'x = block(block(inp))',
    'out = layers.Dense(2)(layers.Flatten()(x))',
    'model = Model(inp, out)',
  ].join('\n');
  r = links(helper, model('input_layer:InputLayer', 'conv2d:Conv2D', 'conv2d_1:Conv2D', 'flatten:Flatten', 'dense:Dense'));
  assert.deepEqual(r.links, ['3:input_layer', '5:dense', '5:flatten'].sort());
  assert.deepEqual(r.unlinked, ['2:Conv2D: it is built by block(), which this file calls 2 times (lines 5, 5)']);

  const twoModels = [
    'import keras',
    'a = keras.Sequential([keras.layers.Dense(4)])',
    'b = keras.Sequential([keras.layers.Dense(4)])',
  ].join('\n');
  r = links(twoModels, model('dense_1:Dense'));
  assert.deepEqual(r.links, []);
  assert.deepEqual(r.unlinked.map((u) => u.replace(/^\d+:Dense: /, '')), [
    "the module's top level builds 2 models (lines 2, 3), and Keras numbers their layers in one sequence",
    "the module's top level builds 2 models (lines 2, 3), and Keras numbers their layers in one sequence"]);

  const counts = 'import keras\nm = keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(4), keras.layers.Dense(2)])';
  r = links(counts, model('dense:Dense', 'dense_1:Dense'));
  assert.deepEqual(r.links, []);
  assert.equal(r.unlinked[0], "1:Dense: the module's top level creates 3 unnamed Dense layers and the model has 2 (dense, dense_1)");
});

test('several builders in one file (a model zoo module): the one whose layers match the model is linked', () => {
  const src = [
    'from keras import layers, Model, Input',
    'def small():',
    '    i = Input((8, 8, 1))',
    '    return Model(i, layers.Dense(2)(layers.Flatten()(layers.Conv2D(4, 3)(i))))',
    'def tiny():',
    '    i = Input((8, 8, 1))',
    '    return Model(i, layers.Dense(2)(layers.GlobalAveragePooling2D()(i)))',
  ].join('\n');
  const r = links(src, model('input_layer:InputLayer', 'conv2d:Conv2D', 'flatten:Flatten', 'dense:Dense'));
  assert.deepEqual(r.links, ['2:input_layer', '3:conv2d', '3:flatten', '3:dense'].sort());
  assert.deepEqual(r.unlinked, [], 'the other builder makes another model: nothing to say about it here');
});

test('the index serves creation-order links to the ranking, with how they were made', () => {
  const index = new LayerIndex();
  const script = '/w/train.py';
  index.update(script, 'import keras\nm = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])\nm.save("out/net.keras")\n');
  const layers = model('input_layer:InputLayer', 'dense:Dense');
  const ranked = index.rank('dense', { modelPath: '/w/out/net.keras', workspaceRoot: '/w', modelLayers: layers });
  assert.equal(ranked.length, 1);
  assert.equal(ranked[0]!.definition.line, 1);
  assert.match(ranked[0]!.definition.link!, /^creation order: the only unnamed Dense\( call/);
  assert.match(ranked[0]!.reason, /saves the model: m\.save\("out\/net\.keras"\)/);
  assert.deepEqual(index.rank('dense', { modelPath: '/w/out/net.keras', workspaceRoot: '/w' }), [], 'no model layers, no order links');
});

test('single-file models (.keras, .h5) are named by their own path only', () => {
  const def = (file: string) => ({ name: 'dense', file, line: 0, column: 0, nameLine: 0, nameColumn: 0, framework: 'keras' as const, className: 'Dense' });
  const mentions = new Map([
    ['/w/a/train.py', [{ value: 'mnist_cnn.keras', line: 3, saveCall: 'model.save' }]],
    ['/w/a/other.py', [{ value: 'other.keras', line: 3, saveCall: 'model.save' }]],
    ['/w/b/deep.py', [{ value: 'a/mnist_cnn.keras', line: 5, saveCall: 'model.save' }]],
  ]);
  const ranked = rankDefinitions(['/w/a/other.py', '/w/a/train.py', '/w/b/deep.py'].map(def),
    (f) => mentions.get(f) ?? [], { modelPath: '/w/a/mnist_cnn.keras', workspaceRoot: '/w' });
  const reason = new Map(ranked.map((r) => [r.definition.file, r.reason]));
  assert.match(reason.get('/w/a/train.py')!, /saves the model: model\.save\("mnist_cnn\.keras"\)/, 'by its file name');
  assert.match(reason.get('/w/b/deep.py')!, /saves the model: model\.save\("a\/mnist_cnn\.keras"\)/, 'by a path relative to the workspace');
  assert.match(reason.get('/w/a/other.py')!, /^no script names/, 'saving another file in the same folder names nothing');
});
