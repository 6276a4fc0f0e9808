//! The one way the simulator takes its mutexes.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks ignoring poison: a panicked handler must not wedge the whole simulator.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
