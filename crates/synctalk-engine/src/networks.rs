//! Loading the audio networks into the engine: Face-Sync, the Expression
//! Generator and Head-Sync, from bytes or from the portrait's own chunks,
//! each checked on silence.

use crate::{head, visemes, Engine, EngineError, HEAD_SYNC_OUTPUTS, NETWORKS};
use synctalk_audio::window_at;
use synctalk_nets::{FaceSync, WindowNet, BLENDSHAPES};
use synctalk_portrait::{NetworkFormat, Portrait};

impl Engine {
    /// Loads the Face-Sync network from NNEF or (with the `onnx` feature)
    /// ONNX bytes; the face at rest becomes its answer to silence.
    pub fn set_face_sync(&mut self, bytes: &[u8]) -> Result<(), EngineError> {
        self.use_face_sync(FaceSync::from_bytes(bytes)?)
    }

    fn use_face_sync(&mut self, mut net: FaceSync) -> Result<(), EngineError> {
        self.rest = self.check_silent(&mut net, BLENDSHAPES)?;
        self.visemes = visemes::Visemes::from_face_sync(&net, &self.rest);
        self.face_sync = Some(net);
        Ok(())
    }

    /// Loads network `name` (one of [`NETWORKS`]) from NNEF or (with the
    /// `onnx` feature) ONNX bytes.
    pub fn set_network(&mut self, name: &str, bytes: &[u8]) -> Result<(), EngineError> {
        match name {
            "face_sync" => self.set_face_sync(bytes),
            "expression" => self.set_expression(bytes),
            "head_sync" => self.set_head_sync(bytes),
            _ => Err(EngineError::Argument(format!(
                "unknown network `{name}` (known: {})",
                NETWORKS.join(", ")
            ))),
        }
    }

    /// Loads the Expression Generator: while speech is heard its offsets
    /// are added to the upper face (every shape but the mouth's).
    pub fn set_expression(&mut self, bytes: &[u8]) -> Result<(), EngineError> {
        self.use_expression(WindowNet::load("expression", bytes)?)
    }

    fn use_expression(&mut self, mut net: WindowNet) -> Result<(), EngineError> {
        // Checked once here, so that a frame never fails on it.
        self.check_silent(&mut net, BLENDSHAPES)?;
        self.expression = Some(net);
        Ok(())
    }

    /// Loads Head-Sync: the head's motion follows the speech (see [`head`]).
    pub fn set_head_sync(&mut self, bytes: &[u8]) -> Result<(), EngineError> {
        self.use_head_sync(WindowNet::load("head_sync", bytes)?)
    }

    fn use_head_sync(&mut self, mut net: WindowNet) -> Result<(), EngineError> {
        let out = self.check_silent(&mut net, HEAD_SYNC_OUTPUTS)?;
        if out[..HEAD_SYNC_OUTPUTS].iter().any(|v| v.abs() > 1e-6) {
            return Err(EngineError::Portrait(format!(
                "network `head_sync` moves the head in silence ({:?}): its output must be 0 there",
                &out[..HEAD_SYNC_OUTPUTS]
            )));
        }
        self.head_sync = Some(net);
        self.head = head::HeadMotion::default();
        Ok(())
    }

    /// Runs `net` on a silent window: it must give `width` finite values.
    fn check_silent(
        &mut self,
        net: &mut WindowNet,
        width: usize,
    ) -> Result<[f32; BLENDSHAPES], EngineError> {
        if net.width() != width {
            return Err(EngineError::Portrait(format!(
                "network `{}` gives {} values, the engine needs {width}",
                net.name(),
                net.width()
            )));
        }
        window_at(&[], 0.0, &mut self.window);
        let out = net.run(self.window.as_flattened())?;
        if out.iter().any(|v| !v.is_finite()) {
            return Err(EngineError::Portrait(format!(
                "network `{}` gives values that are not finite",
                net.name()
            )));
        }
        Ok(out)
    }

    /// Loads the portrait's own networks (`face_sync` and `expression` in
    /// its NETW chunks), each in the format its chunk declares. Returns
    /// whether it had Face-Sync.
    pub fn load_networks(&mut self, portrait: &Portrait) -> Result<bool, EngineError> {
        let mut face_sync = false;
        for name in NETWORKS {
            let Some(n) = portrait.networks.iter().find(|n| n.name == name) else {
                continue;
            };
            let net = match n.format {
                NetworkFormat::Nnef => WindowNet::load_nnef(name, &n.bytes)?,
                NetworkFormat::Onnx => WindowNet::load(name, &n.bytes)?,
            };
            match name {
                "face_sync" => {
                    self.use_face_sync(net)?;
                    face_sync = true;
                }
                "expression" => self.use_expression(net)?,
                _ => self.use_head_sync(net)?,
            }
        }
        Ok(face_sync)
    }
}
