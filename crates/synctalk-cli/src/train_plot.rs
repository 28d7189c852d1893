//! `synctalk train`'s loss/PSNR plot.

use std::path::Path;

use anyhow::{Context, Result};
use synctalk_train::train::LogRow;

/// Loss and PSNR over the steps as an SVG (no plotting library needed).
pub fn loss_plot(log: &[LogRow], path: &Path) -> Result<()> {
    let (w, h, m) = (700.0, 300.0, 40.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    if log.len() >= 2 {
        let first = f64::from(log[0].step);
        let last = f64::from(log[log.len() - 1].step).max(first + 1.0);
        type Series = (&'static str, &'static str, fn(&LogRow) -> f32);
        let series: [Series; 2] = [
            ("loss", "#c83c00", |r| r.loss),
            ("PSNR dB", "#008c00", |r| r.psnr),
        ];
        for (row, (label, colour, get)) in series.iter().enumerate() {
            let v: Vec<f64> = log.iter().map(|r| f64::from(get(r))).collect();
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let lo = sorted[sorted.len() / 100];
            let hi = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
            let points: Vec<String> = log
                .iter()
                .zip(&v)
                .map(|(r, &y)| {
                    let x = m + (f64::from(r.step) - first) / (last - first) * (w - 2.0 * m);
                    let y = h - m - (y.clamp(lo, hi) - lo) / (hi - lo).max(1e-9) * (h - 2.0 * m);
                    format!("{x:.1},{y:.1}")
                })
                .collect();
            svg += &format!(
                "<polyline fill=\"none\" stroke=\"{colour}\" points=\"{}\"/>\n\
                 <text x=\"{}\" y=\"{}\" fill=\"{colour}\">{label}: {:.4} ({lo:.4}..{hi:.4})</text>\n",
                points.join(" "),
                m + 5.0,
                20.0 + 16.0 * row as f64,
                v[v.len() - 1]
            );
        }
        let tail = log[log.len() - 1];
        svg += &format!(
            "<text x=\"{}\" y=\"{}\">step {}, {} Gaussians</text>\n",
            w - 220.0,
            h - 8.0,
            tail.step,
            tail.gaussians
        );
    }
    svg += "</svg>\n";
    std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))
}
