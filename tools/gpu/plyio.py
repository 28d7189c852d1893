"""Reading and writing INRIA 3D Gaussian Splatting .ply files with numpy."""
import numpy as np


def read_ply(path):
    with open(path, "rb") as f:
        names, count = [], 0
        while True:
            line = f.readline().decode().strip()
            if line.startswith("element vertex"):
                count = int(line.split()[-1])
            elif line.startswith("property float"):
                names.append(line.split()[-1])
            elif line == "end_header":
                break
        data = np.fromfile(f, dtype="<f4", count=count * len(names)).reshape(count, len(names))
    col = {n: data[:, i] for i, n in enumerate(names)}
    rest = sorted((n for n in names if n.startswith("f_rest_")), key=lambda n: int(n[7:]))
    coeffs = len(rest) // 3 + 1
    sh = np.zeros((count, coeffs, 3), np.float32)
    sh[:, 0] = np.stack([col[f"f_dc_{c}"] for c in range(3)], 1)
    for c in range(3):
        for k in range(1, coeffs):
            sh[:, k, c] = col[f"f_rest_{c * (coeffs - 1) + k - 1}"]
    return {
        "means": np.stack([col["x"], col["y"], col["z"]], 1),
        "quats": np.stack([col[f"rot_{i}"] for i in range(4)], 1),
        "log_scales": np.stack([col[f"scale_{i}"] for i in range(3)], 1),
        "opacity_logits": col["opacity"],
        "sh": sh,
        "sh_degree": int(round(coeffs ** 0.5)) - 1,
    }


def write_ply(path, means, quats, log_scales, opacity_logits, sh):
    n, coeffs = sh.shape[0], sh.shape[1]
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(3 * (coeffs - 1))]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    rest = sh[:, 1:, :].transpose(0, 2, 1).reshape(n, -1)  # channel-major
    cols = [means, np.zeros((n, 3)), sh[:, 0, :], rest, opacity_logits[:, None], log_scales, quats]
    data = np.concatenate(cols, 1).astype("<f4")
    header = "ply\nformat binary_little_endian 1.0\nelement vertex %d\n" % n
    header += "".join(f"property float {p}\n" for p in names) + "end_header\n"
    with open(path, "wb") as f:
        f.write(header.encode())
        f.write(data.tobytes())
