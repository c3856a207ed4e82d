//! `bqx`: the command line of BQX ML. Parses arguments, calls `bqx-app`, renders the result as
//! a readable table or JSON, and shows progress bars on long work. No domain logic lives here.

mod render;

use std::path::PathBuf;
use std::process::ExitCode;

use bqx_app::{AppError, ErrorCode, FormatChoice, SourceTz, SynthFormat};
use bqx_domain::{Pair, PriceSide, Timeframe};
use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// BQX ML: a local forex machine-learning appliance for the 28 major pairs.
#[derive(Debug, Parser)]
#[command(name = "bqx", version, about, long_about = None)]
struct Cli {
    /// Store directory (default: $BQX_HOME, else the platform data directory, e.g.
    /// ~/.local/share/bqx).
    #[arg(long, global = true, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Progress on stderr: bars (when stderr is a terminal), json (one event per line, for
    /// scripts and tests) or none.
    #[arg(long, global = true, default_value = "bars", value_parser = ["bars", "json", "none"])]
    progress: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ingest bar or tick files (HistData, Dukascopy, MT4, MT5, TrueFX, ECB, CSV, Parquet; zip ok).
    Ingest {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// auto|histdata|dukascopy|mt4|mt5|truefx|ecb|csv|parquet
        #[arg(long, default_value = "auto")]
        format: FormatChoice,
        /// The pair, when neither a column nor the file name says it.
        #[arg(long)]
        pair: Option<Pair>,
        /// Source time zone: an IANA zone (Europe/Athens), a fixed offset (UTC+2) or ny-close
        /// (New York time + 7 h, the usual MetaTrader server time). Required for MT4/MT5.
        #[arg(long)]
        tz: Option<SourceTz>,
        /// Price side of the file: bid|ask|mid.
        #[arg(long)]
        side: Option<PriceSide>,
        /// Bar period (m1, h1, d1, …) of a file with a single bar per series, which cannot
        /// tell it; a file with a readable spacing keeps its own.
        #[arg(long)]
        timeframe: Option<Timeframe>,
    },
    /// Generate a seeded synthetic 28-pair market (for tests and benchmarks).
    Synth {
        /// Bars per pair (372000 ≈ one year of M1).
        #[arg(long)]
        bars: usize,
        #[arg(long, default_value = "m1")]
        timeframe: Timeframe,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Plant a signal: lead-lag:LEADER:FOLLOWER:LAG:STRENGTH (repeatable).
        #[arg(long = "plant", value_name = "SPEC")]
        plants: Vec<String>,
        /// Layout of --out: csv (one file) or histdata (a directory of per-pair files).
        #[arg(long, default_value = "csv", value_parser = parse_synth_format)]
        format: SynthFormat,
        #[arg(long, value_name = "FILE|DIR", conflicts_with = "into_store")]
        out: Option<PathBuf>,
        /// Write the bars straight into the store.
        #[arg(long)]
        into_store: bool,
    },
    /// Run pipeline stages on the store as one run, with the stages they depend on (`bqx
    /// stages` lists them). What is current is skipped; a killed run resumes.
    Run {
        /// Comma-separated stages, e.g. `cross,select` (default: every built stage).
        #[arg(long, value_delimiter = ',')]
        stages: Vec<String>,
        #[command(flatten)]
        backtest: BacktestArgs,
    },
    /// The stage graph: every stage, what it depends on, whether it is built and fitted per
    /// fold.
    Stages,
    /// The champion's forecast for a pair (the multi-task network of the newest run's last
    /// fold): BQX, volatility, regime probabilities, the model card and the feature time used.
    Predict {
        /// The pair, e.g. EURUSD.
        #[arg(long)]
        pair: String,
        /// The bar time to answer for (RFC 3339 or YYYY-MM-DD; default: the latest stored
        /// bar): the latest bar at or before it is used.
        #[arg(long)]
        at: Option<String>,
    },
    /// The stage-2.19 online loop: replays bars one at a time through the same feature kernels,
    /// predicts with a frozen ridge (the champion) and two online learners (RLS, a Hoeffding
    /// tree) weighted by recent error, scores each prediction when its label matures, raises
    /// drift alerts (ADWIN, Page–Hinkley, PSI), and after a confirmed drift of the champion's
    /// error fits a challenger that replaces it only if it wins on paired recent labels. State
    /// is checkpointed: running the same command again resumes.
    Online {
        /// Replay this file (any ingest format; ingested first): its bars after the stored
        /// history are the live part.
        #[arg(long, value_name = "FILE", conflicts_with = "from_store")]
        replay: Option<PathBuf>,
        /// Replay the store's own bars: the last (1 − --train-fraction) of each pair's bars
        /// are the live part.
        #[arg(long)]
        from_store: bool,
        /// Then keep watching this folder: files created or changed in it (any ingest format,
        /// e.g. a trading terminal's export) are ingested and their new bars go through the
        /// loop, until --max-bars or Ctrl-C (the state is checkpointed after every batch).
        #[arg(long, value_name = "DIR", conflicts_with = "replay")]
        watch: Option<PathBuf>,
        /// Watch the store's inbox (`<store>/inbox`, where `POST /api/v1/bars` puts bars).
        #[arg(long, conflicts_with_all = ["replay", "watch"])]
        watch_inbox: bool,
        /// Seconds between two looks at the watched folder.
        #[arg(long, default_value_t = 1.0)]
        poll_seconds: f64,
        /// Pairs (comma-separated; default: every stored pair of the timeframe).
        #[arg(long, value_delimiter = ',')]
        pairs: Vec<Pair>,
        /// Timeframe (default: the one with the most stored pairs).
        #[arg(long)]
        timeframe: Option<String>,
        /// --from-store: share of each pair's bars used to fit the frozen member.
        #[arg(long, default_value_t = 0.7)]
        train_fraction: f64,
        /// Replay at N times the bars' own pace (gaps capped at 1 s).
        #[arg(long, conflicts_with = "as_fast_as_possible")]
        speed: Option<f64>,
        /// Replay as fast as possible (the default).
        #[arg(long)]
        as_fast_as_possible: bool,
        /// Stop after this many live bars (checkpointed; run again to continue).
        #[arg(long)]
        max_bars: Option<u64>,
        /// Live bars between checkpoints.
        #[arg(long, default_value_t = 10_000)]
        checkpoint_every: u64,
        /// Forget this session's checkpoint, alerts and stored rows, and start again.
        #[arg(long)]
        fresh: bool,
        /// Print the signals every N live bars (0: never).
        #[arg(long, default_value_t = 0)]
        signals_every: u64,
        /// The loop's parameters as JSON (any subset of the fields of `OnlineConfig`, e.g.
        /// {"horizon": 30, "rls": {"forgetting": 0.995, "delta": 100}}); the rest keep their
        /// defaults.
        #[arg(long, value_name = "FILE.json")]
        config: Option<PathBuf>,
    },
    /// Makes the previous champion of a pair serve again in a stopped online session (undoes
    /// a challenger's promotion); running the session again resumes with it.
    OnlineRollback {
        /// The session (printed by `bqx online`, listed by `bqx alerts`).
        #[arg(long)]
        session: String,
        /// The pair, e.g. EURUSD.
        #[arg(long)]
        pair: String,
    },
    /// Drift alerts of the online loop, newest first.
    Alerts {
        /// Only this session.
        #[arg(long)]
        session: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// The walk-forward backtest of the current store (reuses every unit an earlier run
    /// completed): tear-sheet, or the JSON report with --json.
    Backtest {
        #[command(flatten)]
        backtest: BacktestArgs,
    },
    /// Export the stored base features as Hive-partitioned Parquet (pair=/year=/month=) with
    /// a metadata.json.
    Export {
        #[arg(long, value_name = "DIR", required = true)]
        parquet: PathBuf,
    },
    /// The feature catalog: every base feature with family, domain, window, formula, warm-up.
    Features {
        /// Print the catalog (the only action so far).
        #[arg(long, required = true)]
        catalog: bool,
        /// Print it as the Markdown of docs/features.md.
        #[arg(long)]
        markdown: bool,
    },
    /// Data health of the store: per pair counts, gaps, DST shifts, stale quotes, OHLC
    /// violations, and triangle residuals on the aligned panel.
    Status,
    /// Run everything that exists on the embedded ECB reference rates (store: --store, else
    /// <data dir>/demo).
    Demo,
    /// Serve the HTTP API and the web UI (loopback by default; off loopback a token is
    /// required, generated and printed unless given). Store: --store, else $BQX_HOME, else the
    /// data directory, or its demo store when only that exists.
    Serve {
        /// Address to listen on (port 0 picks a free port; the URL is printed).
        #[arg(long, default_value = "127.0.0.1:8750")]
        bind: std::net::SocketAddr,
        /// Token required on every request (off loopback one is generated if not given).
        #[arg(long, env = "BQX_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// The built web UI (default: <exe>/../share/bqx/ui, else ./ui/dist).
        #[arg(long, value_name = "DIR", env = "BQX_UI_DIR")]
        ui: Option<PathBuf>,
    },
}

/// Options of the backtest stage (defaults: evaluation.md).
#[derive(Debug, clap::Args)]
struct BacktestArgs {
    /// BQX window W of the target bqx_return_W(t + h).
    #[arg(long, default_value_t = 60)]
    window: usize,
    /// Horizon h in bars.
    #[arg(long, default_value_t = 60)]
    horizon: usize,
    /// Comma-separated models: zero, drift, ridge, random_forest, mlp, multitask, singletask
    /// (default: all).
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Timeframe to evaluate when the store holds several (default: the one with most bars).
    #[arg(long)]
    timeframe: Option<Timeframe>,
    /// Features the models see: base (stored + USD factor), cross (+ the 72 cross-pair
    /// columns), selected (the select stage's choice from those, per fold).
    #[arg(long, default_value = "selected", value_parser = ["base", "cross", "selected"])]
    features: String,
    /// Features the selection keeps (default 280).
    #[arg(long, value_name = "K")]
    select_k: Option<usize>,
    /// Stage 2.18's networks: a profile of models/multitask.json (quick: last 3 folds, a
    /// smaller trunk; full: features.md's network on every fold), off, or a JSON profile file.
    #[arg(long, default_value = "quick", value_name = "PROFILE|off|FILE.json")]
    networks: String,
    /// Stage 2.17's autoencoder, whose embeddings the networks also see: a profile of
    /// models/autoencoder.json (quick, full) or off.
    #[arg(long, default_value = "quick", value_parser = ["quick", "full", "off"])]
    embeddings: String,
    /// The first fold's training span: bars (2000), days (90d), months (6mo) or years (5y)
    /// (default: 5y on daily bars, 6mo intraday). The plan is printed before the work starts.
    #[arg(long, value_name = "SPAN")]
    train: Option<String>,
    /// Each test block (default: 1y on daily bars, 1mo intraday).
    #[arg(long, value_name = "SPAN")]
    test: Option<String>,
    /// From one test block's start to the next (default: the test span).
    #[arg(long, value_name = "SPAN")]
    step: Option<String>,
    /// Train on a rolling window of this span instead of everything before each test block.
    #[arg(long, value_name = "SPAN")]
    rolling: Option<String>,
}

impl BacktestArgs {
    fn request(self) -> Result<bqx_app::BacktestRequest, AppError> {
        Ok(bqx_app::BacktestRequest {
            window: Some(self.window),
            horizon: Some(self.horizon),
            models: (!self.models.is_empty()).then_some(self.models),
            seed: Some(self.seed),
            timeframe: self.timeframe,
            features: Some(bqx_app::FeatureScope::parse(&self.features)?),
            select_k: self.select_k,
            networks: Some(self.networks),
            embeddings: Some(self.embeddings),
            train: self.train,
            test: self.test,
            step: self.step,
            rolling: self.rolling,
        })
    }
}

/// `bqx serve`: the API and the UI until Ctrl-C or SIGTERM.
fn serve(
    dir: &std::path::Path,
    bind: std::net::SocketAddr,
    token: Option<String>,
    ui: Option<PathBuf>,
) -> Result<(), AppError> {
    let internal = |e: std::io::Error| AppError::internal(format!("server: {e}"));
    let ui = ui.or_else(default_ui_dir);
    if let Some(u) = &ui
        && !u.join("index.html").is_file()
    {
        return Err(AppError::new(
            bqx_app::ErrorCode::InvalidArgument,
            format!(
                "{} has no index.html (build the UI: npm --prefix ui install && npm --prefix ui run build)",
                u.display()
            ),
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(internal)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| {
            AppError::new(
                bqx_app::ErrorCode::InvalidArgument,
                format!("cannot listen on {bind}: {e}"),
            )
        })?;
        let addr = listener.local_addr().map_err(internal)?;
        let (mut cfg, generated) = bqx_http::HttpConfig::new(addr, token);
        cfg.ui_dir = ui.clone();
        let service = bqx_app::Service::new(dir);
        let router = bqx_http::router(service, &cfg);
        println!("listening on http://{addr}");
        println!("store {}", dir.display());
        match &ui {
            Some(u) => println!("ui {}", u.display()),
            None => println!(
                "ui not found: API only (build it: npm --prefix ui install && npm --prefix ui run build)"
            ),
        }
        match (&generated, &cfg.token) {
            (Some(t), _) => println!("token {t} (generated; open http://{addr}/?token={t})"),
            (None, Some(_)) => println!("token as given (required on every request)"),
            (None, None) => println!("token none (loopback only)"),
        }
        bqx_http::serve(listener, router, shutdown_signal())
            .await
            .map_err(internal)
    })
}

/// The installed UI (`<exe>/../share/bqx/ui`), else `./ui/dist` when run from a checkout.
fn default_ui_dir() -> Option<PathBuf> {
    let installed = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|p| p.join("../share/bqx/ui")));
    [installed, Some(PathBuf::from("ui/dist"))]
        .into_iter()
        .flatten()
        .find(|d| d.join("index.html").is_file())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn parse_synth_format(s: &str) -> Result<SynthFormat, String> {
    match s {
        "csv" => Ok(SynthFormat::Csv),
        "histdata" => Ok(SynthFormat::Histdata),
        _ => Err(format!("'{s}' is not a synth layout (csv, histdata)")),
    }
}

/// Rust ignores SIGPIPE, so `bqx … | head` made the first print after `head` exited panic.
/// Unix tools end quietly instead: the default action is restored for every command but
/// `serve` (a server must survive a client that hangs up).
#[cfg(unix)]
#[allow(unsafe_code)]
fn default_sigpipe() {
    // SAFETY: called at the start of `main`, before any thread is spawned; `SIG_DFL` is a
    // valid disposition for SIGPIPE and no Rust state depends on the previous one.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    bqx_app::configure_cpu_threads();
    let cli = Cli::parse();
    #[cfg(unix)]
    if !matches!(cli.command, Command::Serve { .. }) {
        default_sigpipe();
    }
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "error": { "code": e.code.as_str(), "message": e.message } })
                );
            }
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code.exit_code() as u8)
        }
    }
}

fn run(cli: Cli) -> Result<(), AppError> {
    let progress = render::Bars::new(match cli.progress.as_str() {
        "json" => render::Mode::Json,
        "none" => render::Mode::None,
        _ if cli.json => render::Mode::None,
        _ => render::Mode::Bars,
    });
    match cli.command {
        Command::Ingest {
            files,
            format,
            pair,
            tz,
            side,
            timeframe,
        } => {
            let dir = bqx_app::resolve_store_dir(cli.store.as_deref())?;
            let req = bqx_app::IngestRequest {
                files,
                format,
                pair,
                tz,
                side,
                timeframe,
            };
            let resp = bqx_app::ingest(&dir, &req, &progress)?;
            progress.clear();
            if cli.json {
                print_json(&resp)
            } else {
                render::ingest(&resp);
                Ok(())
            }
        }
        Command::Synth {
            bars,
            timeframe,
            seed,
            plants,
            format,
            out,
            into_store,
        } => {
            let dir = if into_store {
                Some(bqx_app::resolve_store_dir(cli.store.as_deref())?)
            } else {
                None
            };
            let req = bqx_app::SynthRequest {
                bars,
                timeframe,
                seed,
                plants,
                format,
                out,
                into_store,
            };
            let resp = bqx_app::synth(dir.as_deref(), &req, &progress)?;
            progress.clear();
            if cli.json {
                print_json(&resp)
            } else {
                render::synth(&resp);
                Ok(())
            }
        }
        Command::Run { stages, backtest } => {
            let dir = bqx_app::resolve_store_dir(cli.store.as_deref())?;
            let req = bqx_app::RunRequest {
                stages,
                backtest: backtest.request()?,
            };
            let report = bqx_app::run_pipeline(&dir, &req, "run", &progress)?;
            progress.clear();
            if cli.json {
                print_json(&report)
            } else {
                render::run(&report);
                Ok(())
            }
        }
        Command::Backtest { backtest } => {
            let dir = bqx_app::resolve_store_dir(cli.store.as_deref())?;
            let req = bqx_app::RunRequest {
                stages: vec!["backtest".into()],
                backtest: backtest.request()?,
            };
            let run = bqx_app::run_pipeline(&dir, &req, "backtest", &progress)?;
            progress.clear();
            let outcome = run.backtest.as_ref().ok_or_else(|| {
                AppError::new(ErrorCode::Internal, "the backtest stage produced no report")
            })?;
            if cli.json {
                // The report exactly as written to the store.
                let text = std::fs::read_to_string(&outcome.report_path).map_err(|e| {
                    AppError::new(
                        ErrorCode::Internal,
                        format!("{}: {e}", outcome.report_path.display()),
                    )
                })?;
                print!("{text}");
                Ok(())
            } else {
                render::stage_briefs(&run);
                render::backtest(outcome);
                Ok(())
            }
        }
        Command::Predict { pair, at } => {
            let dir = bqx_app::resolve_store_dir(cli.store.as_deref())?;
            let r = bqx_app::predict(&dir, &bqx_app::PredictRequest { pair, at })?;
            if cli.json {
                print_json(&r)
            } else {
                render::predict(&r);
                Ok(())
            }
        }
        Command::Online {
            replay,
            from_store,
            watch,
            watch_inbox,
            poll_seconds,
            pairs,
            timeframe,
            train_fraction,
            speed,
            as_fast_as_possible: _,
            max_bars,
            checkpoint_every,
            fresh,
            signals_every,
            config,
        } => {
            if replay.is_none() && !from_store && watch.is_none() && !watch_inbox {
                return Err(AppError::new(
                    ErrorCode::InvalidArgument,
                    "say where the bars come from: --replay FILE, --from-store or --watch DIR",
                ));
            }
            let dir = bqx_app::resolve_store_dir(cli.store.as_deref())?;
            let config = match config {
                None => bqx_app::OnlineConfig::default(),
                Some(path) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        AppError::new(
                            ErrorCode::InvalidArgument,
                            format!("--config {}: {e}", path.display()),
                        )
                    })?;
                    serde_json::from_str(&text).map_err(|e| {
                        AppError::new(
                            ErrorCode::InvalidArgument,
                            format!("--config {}: {e}", path.display()),
                        )
                    })?
                }
            };
            let req = bqx_app::OnlineRequest {
                config,
                watch,
                watch_inbox,
                poll_seconds,
                replay,
                pairs,
                timeframe,
                train_fraction,
                speed,
                max_bars,
                checkpoint_every,
                fresh,
                ..Default::default()
            };
            let json = cli.json;
            let mut on_event = |e: bqx_app::OnlineEvent| {
                if json {
                    return;
                }
                progress.suspend(|| render::online_event(&e));
            };
            let stop = std::sync::atomic::AtomicBool::new(false);
            let report =
                bqx_app::online(&dir, &req, &progress, signals_every, &stop, &mut on_event)?;
            progress.clear();
            if cli.json {
                print_json(&report)
            } else {
                render::online(&report);
                Ok(())
            }
        }
        Command::OnlineRollback { session, pair } => {
            let dir = bqx_app::resolve_store_dir(cli.store.as_deref())?;
            let d = bqx_app::online_rollback(&dir, &session, &pair)?;
            if cli.json {
                print_json(&d)
            } else {
                render::decision(&d);
                Ok(())
            }
        }
        Command::Alerts { session, limit } => {
            let dir = bqx_app::resolve_store_dir(cli.store.as_deref())?;
            let alerts = bqx_app::alerts(&dir, session.as_deref(), limit)?;
            if cli.json {
                print_json(&alerts)
            } else {
                render::alerts(&alerts);
                Ok(())
            }
        }
        Command::Stages => {
            let table = bqx_app::stage_table();
            if cli.json {
                print_json(&table)
            } else {
                render::stages(&table);
                Ok(())
            }
        }
        Command::Export { parquet } => {
            let dir = bqx_app::resolve_store_dir(cli.store.as_deref())?;
            let report = bqx_app::export_parquet(&dir, &parquet)?;
            if cli.json {
                print_json(&report)
            } else {
                for d in &report.datasets {
                    println!(
                        "{}: {} rows × {} columns ({} pairs), schema {}",
                        d.path.display(),
                        d.rows,
                        d.columns.len(),
                        d.pair_rows.len(),
                        &d.schema_hash[..12]
                    );
                }
                println!(
                    "metadata: {} ({:.2} s)",
                    report.metadata.display(),
                    report.seconds
                );
                Ok(())
            }
        }
        Command::Features {
            catalog: _,
            markdown,
        } => {
            let catalog = bqx_app::feature_catalog();
            if cli.json {
                print_json(&catalog)
            } else if markdown {
                print!("{}", catalog.to_markdown());
                Ok(())
            } else {
                render::catalog(&catalog);
                Ok(())
            }
        }
        Command::Status => {
            let dir = bqx_app::resolve_store_dir(cli.store.as_deref())?;
            let report = bqx_app::status(&dir)?;
            if cli.json {
                print_json(&report)
            } else {
                render::status(&report);
                Ok(())
            }
        }
        Command::Serve { bind, token, ui } => {
            let dir = bqx_app::resolve_view_store_dir(cli.store.as_deref())?;
            serve(&dir, bind, token, ui)
        }
        Command::Demo => {
            let dir = match cli.store {
                Some(d) => d,
                None => bqx_app::resolve_store_dir(None)?.join("demo"),
            };
            let report = bqx_app::demo(&dir, &progress)?;
            progress.clear();
            if cli.json {
                print_json(&report)
            } else {
                render::demo(&report);
                Ok(())
            }
        }
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<(), AppError> {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?;
    println!("{text}");
    Ok(())
}
