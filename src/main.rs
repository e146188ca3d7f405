//! The `lethe` binary: parse the command line, load the configuration, run the command.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = lethe::cli::Cli::parse();
    if !cli.serves() {
        exit_quietly_on_closed_stdout();
    }
    lethe::memory::configure_allocator();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("lethe: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(lethe::cli::run(cli))
}

/// A one-shot command piped into `head` should stop when the reader goes away, as Unix tools
/// do, instead of panicking in `println!` on the broken pipe. The server keeps Rust's default
/// (SIGPIPE ignored), so a client that hangs up can never end the process.
fn exit_quietly_on_closed_stdout() {
    // SAFETY: called once at start-up, before any thread exists; restoring the default
    // disposition of SIGPIPE has no other effect on this process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
