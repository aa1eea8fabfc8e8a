"""Train the MNIST convnet of demo/keras/ with Keras 3 and save it as mnist_cnn.keras.

The model file Loupe's demo and tests use (mnist_cnn.keras, kept in the project's shared fixtures, see
test/fixtures/keras/README.md) was trained by build_cnn_model() in model_comparison_mnist.ipynb of
github.com/Jhas876622/mnist-digit-recognition (MIT). This script, written for Loupe's demo, builds the
same layers in the same order, none of them named: Keras names them conv2d, max_pooling2d, ... by class
and creation order, and Loupe links each line below to its layer by that order. (The notebook had run
its builder once before in the same session, so its file says conv2d_2 and conv2d_3; Loupe matches the
order of the layers, not the absolute numbers.) Keras does not run on Loupe's own machines; with
TensorFlow/Keras 3 installed, `python demo/keras/train.py` writes a model of the same architecture.
"""
import keras
from keras import layers


def build_model():
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def main():
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    x_train = (x_train.astype("float32") / 255.0)[..., None]
    x_test = (x_test.astype("float32") / 255.0)[..., None]
    y_train = keras.utils.to_categorical(y_train, 10)
    y_test = keras.utils.to_categorical(y_test, 10)

    model = build_model()
    model.fit(x_train, y_train, epochs=5, batch_size=128, validation_split=0.1)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f}")
    model.save("demo/keras/mnist_cnn.keras")


if __name__ == "__main__":
    main()
