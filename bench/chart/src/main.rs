//! Draws the results of `scripts/bench.sh` (its `results.json`) as one SVG:
//! per workload, each client's throughput and client CPU per operation,
//! as a ratio to the raw socket measured in the same run (W5: time to all
//! events, against zookeeper-client). Usage: bench-chart RESULTS.json OUT.svg

use std::error::Error;

use plotters::prelude::*;
use serde_json::Value;

/// Clients in the order they are drawn, with their colours.
const CLIENTS: [(&str, RGBColor); 6] = [
    ("raw-socket", RGBColor(120, 120, 120)),
    ("zookeeper-client", RGBColor(230, 159, 0)),
    ("kazoo", RGBColor(86, 180, 233)),
    ("kazoo-rs-std", RGBColor(0, 114, 178)),
    ("kazoo-rs-tokio", RGBColor(0, 158, 115)),
    ("kazoo-rs-mio", RGBColor(204, 121, 167)),
];

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (input, output) = match args.as_slice() {
        [_, i, o] => (i, o),
        _ => return Err("usage: bench-chart RESULTS.json OUT.svg".into()),
    };
    let results: Value = serde_json::from_str(&std::fs::read_to_string(input)?)?;
    let root = SVGBackend::new(output, (1200, 760)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(360);
    draw(
        &top,
        &results,
        "Throughput, relative to the raw socket (higher is better; log scale)",
        &["W1", "W2", "W3", "W4"],
        |w| w.get("ops_per_s").and_then(Value::as_f64),
        "raw-socket",
    )?;
    draw(
        &bottom,
        &results,
        "Client CPU per operation, relative to the raw socket (lower is better; log scale)",
        &["W1", "W2", "W3", "W4"],
        |w| w.get("client_cpu_us_per_op").and_then(Value::as_f64),
        "raw-socket",
    )?;
    root.present()?;
    Ok(())
}

/// One panel: for each workload a group of bars, one per client, each the
/// client's `value` over `base`'s.
fn draw(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    results: &Value,
    title: &str,
    workloads: &[&str],
    value: impl Fn(&Value) -> Option<f64>,
    base: &str,
) -> Result<(), Box<dyn Error>> {
    let mut bars = Vec::new();
    let mut top: f64 = 1.0;
    for (wi, w) in workloads.iter().enumerate() {
        let Some(clients) = results.get(*w) else {
            continue;
        };
        let Some(reference) = clients.get(base).and_then(&value).filter(|v| *v > 0.0) else {
            continue;
        };
        for (ci, (name, colour)) in CLIENTS.iter().enumerate() {
            if let Some(v) = clients.get(*name).and_then(&value) {
                let r = (v / reference).max(0.01);
                top = top.max(r);
                bars.push((wi, ci, r, *colour));
            }
        }
    }
    let groups = workloads.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..groups, (0.01..top * 1.3).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        // Labels every half group; only the group centres are named.
        .x_labels(workloads.len() * 2 + 1)
        .x_label_formatter(&|x| {
            if (x.fract() - 0.5).abs() > 0.01 {
                return String::new();
            }
            let i = x.floor() as usize;
            workloads
                .get(i)
                .map(|w| (*w).to_string())
                .unwrap_or_default()
        })
        .y_desc("× raw socket")
        .draw()?;
    let width = 0.8 / CLIENTS.len() as f64;
    for (wi, ci, r, colour) in bars {
        let x0 = wi as f64 + 0.1 + ci as f64 * width;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x0, 0.01), (x0 + width * 0.9, r)],
            colour.filled(),
        )))?;
    }
    for (name, colour) in CLIENTS {
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
