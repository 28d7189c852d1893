// SyncTalk Web: the AudioWorklet that captures live audio (a microphone, a
// MediaStream) for Avatar.listen(). It mixes its input to mono and posts it
// to the main thread in chunks of `chunk` frames (default 512: 10.7 ms at
// 48 kHz), with the context time at which each chunk ended.

class SyncTalkCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.n = options?.processorOptions?.chunk ?? 512;
    this.buf = new Float32Array(this.n);
    this.at = 0;
    this.running = true;
    this.port.onmessage = (e) => {
      if (e.data === 'stop') this.running = false;
    };
  }

  process(inputs) {
    const input = inputs[0];
    if (input && input.length > 0) {
      const frames = input[0].length;
      const k = 1 / input.length;
      for (let i = 0; i < frames; i++) {
        let v = 0;
        for (let c = 0; c < input.length; c++) v += input[c][i];
        this.buf[this.at++] = v * k;
        if (this.at === this.buf.length) {
          const chunk = this.buf;
          this.port.postMessage({ samples: chunk, time: currentTime + (i + 1) / sampleRate }, [chunk.buffer]);
          // (The transferred array is detached: its length is 0 now.)
          this.buf = new Float32Array(this.n);
          this.at = 0;
        }
      }
    }
    return this.running;
  }
}

registerProcessor('synctalk-capture', SyncTalkCapture);
