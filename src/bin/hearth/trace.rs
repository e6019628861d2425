//! `hearth trace PATH`: a runtime's trace file as Chrome's trace-event
//! JSON.

use std::fs::File;
use std::io;
use std::process::ExitCode;

use crate::{OWN_ERROR, TraceArgs};

/// Converts the trace; says what went wrong and exits 255 if it cannot.
pub fn run(args: &TraceArgs) -> ExitCode {
    let trace = match File::open(&args.path) {
        Ok(file) => file,
        Err(err) => {
            say!("hearth trace: cannot open {}: {err}", args.path.display());
            return ExitCode::from(OWN_ERROR);
        }
    };
    let converted = match &args.output {
        Some(path) => File::create(path)
            .map_err(|err| format!("cannot create {}: {err}", path.display()))
            .and_then(|out| {
                hearth::trace::to_chrome_json(trace, out)
                    .map_err(|err| format!("{}: {err}", args.path.display()))
            }),
        None => match hearth::trace::to_chrome_json(trace, io::stdout().lock()) {
            // A reader that stopped early (`| head`) is not an error.
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            result => result.map_err(|err| format!("{}: {err}", args.path.display())),
        },
    };
    match converted {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            say!("hearth trace: {msg}");
            ExitCode::from(OWN_ERROR)
        }
    }
}
