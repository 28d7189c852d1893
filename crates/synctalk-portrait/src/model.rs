//! What a portrait holds, decoded.

use synctalk_gaussians::{Camera, Deformation, Gaussians, Image};

/// How non-position Gaussian values and deformation bases are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Precision {
    /// 32-bit floats.
    F32,
    /// IEEE half floats (positions stay f32). Half the size; the default.
    #[default]
    F16,
}

/// Descriptive metadata (the `META` chunk, JSON).
#[derive(Clone, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Metadata {
    /// Display name of the portrait.
    pub name: String,
    /// Licence of the portrait (e.g. "CC BY 4.0").
    pub licence: String,
    /// Who and what to credit (source footage, authors).
    #[serde(default)]
    pub attribution: String,
    /// Tool that wrote the file.
    #[serde(default)]
    pub created_by: String,
    /// Training figures and anything else (free-form JSON object).
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Activation after a dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Identity.
    Linear,
    /// max(0, x).
    Relu,
    /// tanh(x).
    Tanh,
    /// 1 / (1 + e^-x).
    Sigmoid,
}

/// A dense layer `y = act(W x + b)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    /// Input size.
    pub inputs: usize,
    /// Output size.
    pub outputs: usize,
    /// Activation.
    pub activation: Activation,
    /// `outputs x inputs`, row-major.
    pub weights: Vec<f32>,
    /// `outputs`.
    pub bias: Vec<f32>,
}

/// The small MLP that turns a frame's condition vector (lip code and
/// expression blendshapes) into the deformation coefficients.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Controller {
    /// Size of the condition vector.
    pub input_dim: usize,
    /// Layers, applied in order; the last one outputs one value per basis.
    /// With no layers the condition vector is the coefficient vector.
    pub layers: Vec<Dense>,
}

impl Controller {
    /// Evaluates the MLP. `input` must hold `input_dim` values.
    pub fn evaluate(&self, input: &[f32]) -> Vec<f32> {
        let mut out = Vec::new();
        self.evaluate_into(input, &mut Vec::new(), &mut out);
        out
    }

    /// Evaluates the MLP into `out`, with `scratch` for the hidden layers:
    /// once both have grown to the widest layer, nothing is allocated.
    pub fn evaluate_into(&self, input: &[f32], scratch: &mut Vec<f32>, out: &mut Vec<f32>) {
        out.clear();
        out.extend_from_slice(input);
        for l in &self.layers {
            std::mem::swap(scratch, out);
            out.clear();
            out.extend((0..l.outputs).map(|o| {
                let row = &l.weights[o * l.inputs..(o + 1) * l.inputs];
                let v = l.bias[o]
                    + row
                        .iter()
                        .zip(scratch.iter())
                        .map(|(w, v)| w * v)
                        .sum::<f32>();
                match l.activation {
                    Activation::Linear => v,
                    Activation::Relu => v.max(0.0),
                    Activation::Tanh => v.tanh(),
                    Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
                }
            }));
        }
    }
}

/// The learned deformation: per-Gaussian bases and their controller.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LearnedDeformation {
    /// Per-Gaussian offsets per basis.
    pub basis: Deformation,
    /// Condition vector to coefficients.
    pub controller: Controller,
}

/// One frame of the head-pose track: head-to-world rotation and translation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeadPose {
    /// Rotation quaternion `(w, x, y, z)`, unit length.
    pub rotation: [f32; 4],
    /// Translation.
    pub translation: [f32; 3],
}

/// The head-pose track of the training video.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PoseTrack {
    /// Frames per second.
    pub fps: f32,
    /// One pose per frame.
    pub frames: Vec<HeadPose>,
}

/// What a layer image is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerRole {
    /// The background plate.
    Background,
    /// A torso image (indexed by frame or pose).
    Torso,
    /// Another role, kept as its code.
    Other(u8),
}

/// How a layer's pixels are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerEncoding {
    /// Uncompressed RGBA8.
    Raw,
    /// A PNG file (8-bit RGBA).
    Png,
}

/// A layer image (the `IMAG` chunk), kept encoded so files round-trip exactly.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Role.
    pub role: LayerRole,
    /// Index within the role (e.g. torso frame).
    pub index: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Encoding of `data`.
    pub encoding: LayerEncoding,
    /// Encoded pixels.
    pub data: Vec<u8>,
}

impl Layer {
    /// A layer from an image, PNG-encoded.
    pub fn from_image(
        role: LayerRole,
        index: u32,
        img: &Image,
    ) -> Result<Self, crate::PortraitError> {
        Ok(Self {
            role,
            index,
            width: img.width,
            height: img.height,
            encoding: LayerEncoding::Png,
            data: crate::chunks::encode_png(img)?,
        })
    }

    /// Decodes the pixels.
    pub fn image(&self) -> Result<Image, crate::PortraitError> {
        crate::chunks::decode_layer(self)
    }
}

/// Format of a network's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkFormat {
    /// An ONNX model.
    Onnx,
    /// A tract NNEF archive (tar).
    Nnef,
}

/// A network shipped with the portrait (the `NETW` chunk).
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Name, e.g. "face_sync".
    pub name: String,
    /// Format of `bytes`.
    pub format: NetworkFormat,
    /// The model file.
    pub bytes: Vec<u8>,
}

/// Everything the browser needs for one avatar.
#[derive(Clone, Debug, PartialEq)]
pub struct Portrait {
    /// Metadata.
    pub meta: Metadata,
    /// The portrait camera (intrinsics and world-to-camera pose).
    pub camera: Camera,
    /// Canonical Gaussians of the head.
    pub gaussians: Gaussians,
    /// Storage precision of the Gaussians and the deformation basis.
    pub precision: Precision,
    /// The learned deformation, if any.
    pub deformation: Option<LearnedDeformation>,
    /// Head-pose track, if any.
    pub pose: Option<PoseTrack>,
    /// Layer images.
    pub layers: Vec<Layer>,
    /// Networks.
    pub networks: Vec<Network>,
}
