"""Hyperparameter optimisation: differentiate the validation loss through the training loop.

A linear model (W, b) is trained by STEPS steps of mini-batch SGD with weight decay. The
whole training run is one Python function of the log learning rate and the log weight
decay, ending in the validation loss; s2sad differentiates it in reverse mode through the
unrolled loop (the tape in the generated code keeps W and b of every step), and gradient
descent on (log lr, log wd) improves both: the weight decay that keeps the model from
overfitting 32 examples with 30 features, and the learning rate.

The inner gradient (of the training loss, with respect to W and b) is written by hand
inside the loop; s2sad then differentiates that, so the hypergradient contains the second
derivatives of the training loss. Run: python examples/hyperparameter_optimization.py
"""

import math
import time

import numpy as np
from _plot import pyplot, save

import s2sad

D, K = 30, 2            # input features, outputs
BATCH, N_BATCHES = 8, 4  # 32 training examples: barely more than features, so it overfits
STEPS = 300             # SGD steps, unrolled inside the differentiated function


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    W_true = rng.normal(0.0, 0.3, (D, K))
    b_true = np.array([0.5, -1.0])

    def sample(n):
        X = rng.normal(0.0, 1.0, (n, D))
        return X, X @ W_true + b_true + rng.normal(0.0, 1.0, (n, K))

    X_train, Y_train = sample(BATCH * N_BATCHES)
    X_val, Y_val = sample(200)
    # mini-batches as a leading axis: batch t is X_batches[t % N_BATCHES]
    return (X_train.reshape(N_BATCHES, BATCH, D), Y_train.reshape(N_BATCHES, BATCH, K),
            X_val, Y_val)


def val_loss_after_training(log_lr, log_wd, W, b, X_batches, Y_batches, X_val, Y_val):
    lr = math.exp(log_lr)
    wd = math.exp(log_wd)
    for t in range(STEPS):
        X = X_batches[t % N_BATCHES]
        Y = Y_batches[t % N_BATCHES]
        # gradient of mean squared error + wd/2 |W|^2, by hand
        R = (X @ W + b - Y) * (2.0 / (BATCH * K))
        W = W - lr * (X.T @ R + wd * W)
        b = b - lr * np.sum(R, axis=0)
    return np.mean((X_val @ W + b - Y_val) ** 2)


def main():
    Xb, Yb, X_val, Y_val = make_data()
    W0, b0 = np.zeros((D, K)), np.zeros(K)
    data = (W0, b0, Xb, Yb, X_val, Y_val)
    hyper_grad = s2sad.value_and_grad(val_loss_after_training, wrt=("log_lr", "log_wd"))

    log_lr, log_wd = math.log(0.03), math.log(0.01)
    # The hypergradient against central differences.
    value, (g_lr, g_wd) = hyper_grad(log_lr, log_wd, *data)
    e = 1e-5
    fd_lr = (val_loss_after_training(log_lr + e, log_wd, *data)
             - val_loss_after_training(log_lr - e, log_wd, *data)) / (2 * e)
    fd_wd = (val_loss_after_training(log_lr, log_wd + e, *data)
             - val_loss_after_training(log_lr, log_wd - e, *data)) / (2 * e)
    print(f"validation loss at lr = 0.03, wd = 0.01: {value:.5f}")
    print(f"d/dlog_lr: s2sad {g_lr:.8f}, central difference {fd_lr:.8f}")
    print(f"d/dlog_wd: s2sad {g_wd:.8f}, central difference {fd_wd:.8f}")
    assert abs(g_lr - fd_lr) < 1e-6 * max(1.0, abs(fd_lr))
    assert abs(g_wd - fd_wd) < 1e-6 * max(1.0, abs(fd_wd))

    # Gradient descent on the hyperparameters, in log space, with Adam's per-coordinate step
    # sizes: d/dlog_wd is much smaller than d/dlog_lr, and plain gradient descent would only
    # tune the learning rate (towards early stopping) and leave the weight decay where it is.
    eta, iters = 0.3, 40
    m, v = np.zeros(2), np.zeros(2)
    path = []
    t0 = time.perf_counter()
    for it in range(1, iters + 1):
        value, (g_lr, g_wd) = hyper_grad(log_lr, log_wd, *data)
        path.append((log_lr, log_wd, value))
        if it % 5 == 1:
            print(f"iteration {it:3d}  lr {math.exp(log_lr):.4f}  wd {math.exp(log_wd):.4f}  "
                  f"validation loss {value:.5f}")
        g = np.array([g_lr, g_wd])
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        step = eta * (m / (1 - 0.9 ** it)) / (np.sqrt(v / (1 - 0.999 ** it)) + 1e-8)
        log_lr, log_wd = log_lr - step[0], log_wd - step[1]
    final = val_loss_after_training(log_lr, log_wd, *data)
    path.append((log_lr, log_wd, final))
    secs = time.perf_counter() - t0
    print(f"validation loss {path[0][2]:.5f} -> {final:.5f} with lr {math.exp(log_lr):.4f}, "
          f"wd {math.exp(log_wd):.4f} ({iters} hypergradient steps, {secs:.2f}s)")
    assert final < 0.7 * path[0][2]
    assert math.exp(log_wd) > 0.1      # the weight decay grew more than tenfold

    plt = pyplot()
    if plt is not None:
        # the validation loss over a grid of hyperparameters, and the path taken
        lrs = np.linspace(math.log(0.001), math.log(0.2), 20)
        wds = np.linspace(math.log(1e-3), math.log(3.0), 20)
        Z = np.array([[val_loss_after_training(a, c, *data) for a in lrs] for c in wds])
        fig, ax = plt.subplots(figsize=(6, 4.5))
        cs = ax.contourf(lrs, wds, np.log10(np.minimum(Z, 10.0)), levels=30, cmap="viridis")
        fig.colorbar(cs, label="log10 validation loss")
        p = np.array(path)
        ax.plot(p[:, 0], p[:, 1], "w.-")
        ax.set_xlabel("log learning rate")
        ax.set_ylabel("log weight decay")
        ax.set_title("hypergradient descent")
        save(fig, __file__)


if __name__ == "__main__":
    main()
