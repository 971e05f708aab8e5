//! The load benchmark's figures as pictures: reads the hit table `scripts/load-bench.sh`
//! writes (`hit.tsv`) and draws two SVG charts beside it, one of throughput and CPU per request
//! per server, one of latency (p50 and p99, unpaced and paced).
//!
//! ```text
//! load_bench_charts TABLE.tsv OUT_DIR     # writes OUT_DIR/hits.svg and OUT_DIR/latency.svg
//! ```
//!
//! The table has a header line and one line per server, tab-separated: `server rps p50_us
//! p99_us cpu_us_per_req paced_rps paced_p50_us paced_p99_us`. Only plotters' SVG backend is
//! used: no fonts or system libraries are needed (text is left to the SVG viewer).

use std::error::Error;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

type AnyError = Box<dyn Error>;

/// One server's row of the hit table.
struct Row {
    server: String,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us: f64,
    paced_p50_us: f64,
    paced_p99_us: f64,
}

const WIDTH: u32 = 960;
const HEIGHT: u32 = 420;
const BAR: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
const SECOND_BAR: RGBColor = RGBColor(0xe0, 0x7b, 0x39);

fn main() -> Result<(), AnyError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [table, out_dir] = args.as_slice() else {
        return Err("usage: load_bench_charts TABLE.tsv OUT_DIR".into());
    };
    let rows = read_table(&std::fs::read_to_string(table)?)?;
    if rows.is_empty() {
        return Err(format!("{table} has no server rows").into());
    }
    let out_dir = Path::new(out_dir);
    std::fs::create_dir_all(out_dir)?;
    let hits = out_dir.join("hits.svg");
    let latency = out_dir.join("latency.svg");
    {
        let root = SVGBackend::new(&hits, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let (left, right) = root.split_horizontally(WIDTH / 2);
        bars(
            &left,
            "Cache hits: requests per second",
            &rows,
            |r| r.rps,
            "req/s",
        )?;
        bars(&right, "CPU per request (µs)", &rows, |r| r.cpu_us, "µs")?;
        root.present()?;
    }
    {
        let root = SVGBackend::new(&latency, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let (left, right) = root.split_horizontally(WIDTH / 2);
        paired_bars(&left, "Latency, unpaced (µs)", &rows, |r| {
            (r.p50_us, r.p99_us)
        })?;
        paired_bars(&right, "Latency, paced (µs)", &rows, |r| {
            (r.paced_p50_us, r.paced_p99_us)
        })?;
        root.present()?;
    }
    eprintln!("wrote {} and {}", hits.display(), latency.display());
    Ok(())
}

fn read_table(text: &str) -> Result<Vec<Row>, AnyError> {
    let mut rows = Vec::new();
    for line in text.lines().skip(1).filter(|line| !line.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [server, rps, p50, p99, cpu, _paced_rps, paced_p50, paced_p99] = fields.as_slice()
        else {
            return Err(format!("expected 8 tab-separated fields: {line:?}").into());
        };
        let number = |field: &str| -> Result<f64, AnyError> {
            // "-" marks a figure the run did not measure.
            if field == "-" {
                return Ok(0.0);
            }
            Ok(field.parse()?)
        };
        rows.push(Row {
            server: (*server).to_owned(),
            rps: number(rps)?,
            p50_us: number(p50)?,
            p99_us: number(p99)?,
            cpu_us: number(cpu)?,
            paced_p50_us: number(paced_p50)?,
            paced_p99_us: number(paced_p99)?,
        });
    }
    Ok(rows)
}

/// The top of a value axis: the largest value plus room for its label.
fn axis_top(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.fold(0.0, f64::max);
    if max > 0.0 { max * 1.18 } else { 1.0 }
}

fn server_label(rows: &[Row]) -> impl Fn(&SegmentValue<usize>) -> String + '_ {
    |value| match value {
        SegmentValue::CenterOf(i) => rows.get(*i).map_or_else(String::new, |r| r.server.clone()),
        _ => String::new(),
    }
}

/// One bar per server with its value written above it.
fn bars(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    rows: &[Row],
    value: impl Fn(&Row) -> f64,
    unit: &str,
) -> Result<(), AnyError> {
    let top = axis_top(rows.iter().map(&value));
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(64)
        .build_cartesian_2d((0..rows.len()).into_segmented(), 0.0..top)?;
    let label = server_label(rows);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&label)
        .y_label_formatter(&|v| axis_value(*v, top))
        .y_desc(unit)
        .draw()?;
    chart.draw_series(rows.iter().enumerate().map(|(i, row)| {
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), value(row)),
            ],
            BAR.filled(),
        );
        bar.set_margin(0, 0, 14, 14);
        bar
    }))?;
    chart.draw_series(rows.iter().enumerate().map(|(i, row)| {
        let v = value(row);
        Text::new(
            format_value(v),
            (SegmentValue::CenterOf(i), v + top * 0.02),
            ("sans-serif", 14).into_font().color(&BLACK),
        )
    }))?;
    Ok(())
}

/// Two bars per server (p50 left, p99 right) with a legend.
fn paired_bars(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    rows: &[Row],
    values: impl Fn(&Row) -> (f64, f64),
) -> Result<(), AnyError> {
    let top = axis_top(rows.iter().flat_map(|r| {
        let (a, b) = values(r);
        [a, b]
    }));
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(64)
        .build_cartesian_2d((0..rows.len()).into_segmented(), 0.0..top)?;
    let label = server_label(rows);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&label)
        .y_label_formatter(&|v| axis_value(*v, top))
        .y_desc("µs")
        .draw()?;
    let halves = [("p50", BAR, false), ("p99", SECOND_BAR, true)];
    for (name, color, right_half) in halves {
        chart
            .draw_series(rows.iter().enumerate().map(|(i, row)| {
                let (p50, p99) = values(row);
                let (from, to, v) = if right_half {
                    (SegmentValue::CenterOf(i), SegmentValue::Exact(i + 1), p99)
                } else {
                    (SegmentValue::Exact(i), SegmentValue::CenterOf(i), p50)
                };
                let mut bar = Rectangle::new([(from, 0.0), (to, v)], color.filled());
                bar.set_margin(0, 0, 6, 6);
                bar
            }))?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// An axis label: whole numbers unless the axis is short.
fn axis_value(v: f64, top: f64) -> String {
    if top > 50.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// `83,174` for large figures, one decimal for small ones.
fn format_value(v: f64) -> String {
    if v >= 1000.0 {
        let whole = v.round() as u64;
        let text = whole.to_string();
        let mut grouped = String::new();
        for (i, digit) in text.chars().enumerate() {
            if i > 0 && (text.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        grouped
    } else {
        format!("{v:.1}")
    }
}
