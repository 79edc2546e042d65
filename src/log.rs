//! Minimal leveled logging to stderr. The write key is never passed here.

use crate::config::LogLevel;

#[derive(Clone, Copy)]
pub struct Logger {
    level: LogLevel,
}

impl Logger {
    pub fn new(level: LogLevel) -> Logger {
        Logger { level }
    }

    pub fn enabled(&self, level: LogLevel) -> bool {
        level != LogLevel::Off && level <= self.level
    }

    pub fn log(&self, level: LogLevel, message: impl FnOnce() -> String) {
        if self.enabled(level) {
            let tag = match level {
                LogLevel::Error => "ERROR",
                LogLevel::Warn => "WARN",
                LogLevel::Info => "INFO",
                _ => "DEBUG",
            };
            eprintln!("flagwire {tag}: {}", message());
        }
    }
}
