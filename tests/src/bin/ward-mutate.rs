//! `ward-mutate`: the import path against mutated real files. Seeds are the real captures in
//! `../shared/realdata/systeminfo` and `../shared/realdata/nmap` (read in place, never copied)
//! plus the repository's own probe fixtures; each iteration mutates a seed (bit flips, byte
//! changes, inserted and deleted runs, duplicated or truncated chunks, a splice of two seeds,
//! another text encoding) and gives it to `import::parse` in this process: no panic, and an
//! answer within `--hang-secs`. Every `--http-every`th input also goes to a running collector
//! (`POST /api/v1/imports`, the intake the drop folder and the Imports page use): the answer
//! must be 200 or 422, never 5xx, and the collector must still answer `/healthz`.
//!
//! Bounded by `--iterations` and `--seconds`; traffic only goes to 127.0.0.1. A failing input
//! is written to `--out` (default: the current directory) to reproduce it.
//! Exit 0: nothing failed; 1: a panic, hang or 5xx; 2: the run could not be done.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ward_tests::{Collector, init_collector, realdata};

/// Mutated real import files through the parser and the collector's intake.
#[derive(Debug, Parser)]
#[command(name = "ward-mutate", version)]
struct Cli {
    /// Mutated inputs to try.
    #[arg(long, default_value_t = 2000)]
    iterations: u64,
    /// Stop after this many seconds even if fewer inputs were tried.
    #[arg(long, default_value_t = 300.0)]
    seconds: f64,
    /// A parse taking longer than this is a hang.
    #[arg(long, default_value_t = 10)]
    hang_secs: u64,
    /// Send every Nth input to a running collector too (0: never).
    #[arg(long, default_value_t = 20)]
    http_every: u64,
    /// Random seed (printed, so a run can be repeated).
    #[arg(long)]
    seed: Option<u64>,
    /// Where failing inputs are written.
    #[arg(long, default_value = ".")]
    out: PathBuf,
}

fn seeds() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut dirs = Vec::new();
    match realdata() {
        Some(root) => {
            dirs.push(root.join("systeminfo"));
            dirs.push(root.join("nmap"));
        }
        None => {
            ward_tests::skip("../shared/realdata is absent; only the repository's fixtures seed");
        }
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../collector/tests/fixtures"));
    let mut files = Vec::new();
    let mut stack = dirs;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| dir.display().to_string())? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.metadata().is_ok_and(|m| m.len() <= 4 << 20) {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                files.push((name, std::fs::read(&path)?));
            }
        }
    }
    files.sort();
    if files.is_empty() {
        bail!("no seed files found");
    }
    Ok(files)
}

/// One random change to `data`, sometimes using `other` (another seed).
fn mutate(rng: &mut StdRng, data: &mut Vec<u8>, other: &[u8]) {
    let interesting: &[&[u8]] = &[
        b"\0",
        b"\xff\xfe",
        b"\xef\xbb\xbf",
        b"<!DOCTYPE x [<!ENTITY a \"b\">]>",
        b"&a;",
        b"\r",
        b"\n\n\n",
        b",,,,",
        b"\"",
        b"KB",
        b"99999999999999999999",
        b"-1",
        b"<host>",
        b"</host>",
        b"<![CDATA[",
        b"Hotfix(s):",
        b"1601-01-01",
        b"0000-00-00",
        b":",
        b"\t",
    ];
    let len = data.len();
    match rng.gen_range(0..10) {
        0 if len > 0 => {
            let i = rng.gen_range(0..len);
            data[i] ^= 1 << rng.gen_range(0..8);
        }
        1 if len > 0 => {
            let i = rng.gen_range(0..len);
            data[i] = rng.r#gen();
        }
        2 => {
            let at = rng.gen_range(0..=len);
            let piece = interesting[rng.gen_range(0..interesting.len())];
            data.splice(at..at, piece.iter().copied());
        }
        3 if len > 1 => {
            let a = rng.gen_range(0..len);
            let b = (a + rng.gen_range(1..=64.min(len - a))).min(len);
            data.drain(a..b);
        }
        4 if len > 1 => {
            let a = rng.gen_range(0..len);
            let b = (a + rng.gen_range(1..=4096.min(len - a))).min(len);
            let chunk = data[a..b].to_vec();
            let at = rng.gen_range(0..=len);
            for _ in 0..rng.gen_range(1..=8) {
                data.splice(at..at, chunk.iter().copied());
            }
        }
        5 if len > 1 => data.truncate(rng.gen_range(0..len)),
        6 if !other.is_empty() && len > 0 => {
            let cut = rng.gen_range(0..len);
            let from = rng.gen_range(0..other.len());
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        7 => {
            // UTF-16LE, as Windows tools write.
            let text = String::from_utf8_lossy(data).into_owned();
            let mut out = vec![0xff, 0xfe];
            out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            *data = out;
        }
        8 if len > 0 => {
            for _ in 0..rng.gen_range(1..32) {
                let i = rng.gen_range(0..data.len());
                data[i] = b"0123456789:/,.<>\"= \r\n"[rng.gen_range(0..21)];
            }
        }
        _ => {
            let at = rng.gen_range(0..=len);
            let n = rng.gen_range(1..256);
            let noise: Vec<u8> = (0..n).map(|_| rng.r#gen()).collect();
            data.splice(at..at, noise);
        }
    }
}

enum Verdict {
    Ok,
    Panic(String),
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    let seeds = seeds()?;
    let seed = cli.seed.unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    println!(
        "ward-mutate: {} seed files, seed {seed}, up to {} inputs or {} s",
        seeds.len(),
        cli.iterations,
        cli.seconds
    );
    let now = chrono::Utc::now();

    // The parser runs on its own thread so that a hang is seen, not waited on forever.
    let (to_parser, inputs) = mpsc::channel::<(String, Vec<u8>)>();
    let (to_main, verdicts) = mpsc::channel::<(Verdict, Option<bool>)>();
    std::thread::spawn(move || {
        for (name, bytes) in inputs {
            let result = std::panic::catch_unwind(|| {
                ward_collector::import::parse(&bytes, &name, now).is_ok()
            });
            let verdict = match result {
                Ok(parsed) => (Verdict::Ok, Some(parsed)),
                Err(p) => {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default();
                    (Verdict::Panic(msg), None)
                }
            };
            if to_main.send(verdict).is_err() {
                return;
            }
        }
    });

    let temp = tempfile::Builder::new().prefix("ward-mutate-").tempdir()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let collector = if cli.http_every > 0 {
        let data = temp.path().join("data");
        init_collector(&data, None)?;
        Some(Collector::start(&data, 0)?)
    } else {
        None
    };
    let client = collector.as_ref().map(Collector::client);

    let started = Instant::now();
    let mut tried = 0u64;
    let mut accepted = 0u64;
    let mut via_http = 0u64;
    let mut http_ok = 0u64;
    let mut failures = 0u64;
    let save = |what: &str, n: u64, name: &str, bytes: &[u8]| {
        let path = cli
            .out
            .join(format!("ward-mutate-{what}-{seed}-{n}-{name}"));
        match std::fs::write(&path, bytes) {
            Ok(()) => eprintln!("  input written to {}", path.display()),
            Err(e) => eprintln!("  cannot write {}: {e}", path.display()),
        }
    };
    while tried < cli.iterations && started.elapsed().as_secs_f64() < cli.seconds {
        let (name, base) = &seeds[rng.gen_range(0..seeds.len())];
        let other = &seeds[rng.gen_range(0..seeds.len())].1;
        let mut bytes = base.clone();
        for _ in 0..rng.gen_range(1..=8) {
            mutate(&mut rng, &mut bytes, other);
        }
        tried += 1;
        to_parser
            .send((name.clone(), bytes.clone()))
            .context("the parser thread ended")?;
        match verdicts.recv_timeout(Duration::from_secs(cli.hang_secs)) {
            Ok((Verdict::Ok, parsed)) => accepted += u64::from(parsed == Some(true)),
            Ok((Verdict::Panic(msg), _)) => {
                failures += 1;
                eprintln!("PANIC in import::parse on a mutation of {name}: {msg}");
                save("panic", tried, name, &bytes);
            }
            Err(_) => {
                eprintln!(
                    "HANG: import::parse took over {} s on a mutation of {name}",
                    cli.hang_secs
                );
                save("hang", tried, name, &bytes);
                println!("MUTATE FAILED after {tried} inputs");
                return Ok(false);
            }
        }
        if let (Some(c), Some(client)) = (&collector, &client)
            && cli.http_every > 0
            && tried.is_multiple_of(cli.http_every)
        {
            via_http += 1;
            let url = format!("{}/api/v1/imports?name={}", c.url, urlish(name));
            let answer = runtime.block_on(async {
                client
                    .post(url)
                    .bearer_auth(c.admin_token())
                    .timeout(Duration::from_secs(60))
                    .body(bytes.clone())
                    .send()
                    .await
            });
            let health = runtime.block_on(async {
                client
                    .get(format!("{}/healthz", c.url))
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
            });
            match answer {
                Ok(r) if r.status() == 200 || r.status() == 422 => http_ok += 1,
                Ok(r) => {
                    failures += 1;
                    let status = r.status();
                    let text = runtime.block_on(r.text()).unwrap_or_default();
                    eprintln!("HTTP {status} for a mutation of {name}: {text}");
                    save("http", tried, name, &bytes);
                }
                Err(e) => {
                    failures += 1;
                    eprintln!("HTTP error for a mutation of {name}: {e}");
                    save("http", tried, name, &bytes);
                }
            }
            if !health.is_ok_and(|h| h.status() == 200) {
                failures += 1;
                eprintln!("/healthz failed after a mutation of {name}");
            }
        }
        if tried.is_multiple_of(1000) {
            println!(
                "  {tried} inputs, {accepted} parsed, {failures} failures, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    drop(to_parser);
    if let Some(c) = collector {
        let _ = c.stop();
    }
    println!("inputs         {tried} mutated files (seed {seed})");
    println!("parsed         {accepted} (the rest refused with a reason)");
    println!("through HTTP   {via_http}, answered 200 or 422: {http_ok}");
    println!("failures       {failures} (panics, hangs, 5xx)");
    println!("elapsed        {:.1} s", started.elapsed().as_secs_f64());
    let ok = failures == 0 && tried > 0;
    println!(
        "{}",
        if ok {
            "MUTATE OK: no panic, hang or 5xx"
        } else {
            "MUTATE FAILED"
        }
    );
    Ok(ok)
}

/// The file name as a query value: letters, digits, `.`, `-`, `_` kept, the rest `_`.
fn urlish(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
