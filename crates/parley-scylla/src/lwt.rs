//! Reading the outcome of a lightweight transaction (`... IF ...`).
//!
//! The server answers with an `[applied]` column and, when not applied, the
//! current values of the row. Which columns come back differs between Scylla
//! and Cassandra, so they are read by name, never by position.

use crate::ScyllaError;
use scylla::response::query_result::QueryResult;
use scylla::value::{CqlValue, Row};

pub enum Lwt {
    Applied,
    /// The condition failed; the row as it is now.
    NotApplied(CurrentRow),
}

pub struct CurrentRow {
    names: Vec<String>,
    values: Vec<Option<CqlValue>>,
}

impl CurrentRow {
    pub fn get(&self, column: &str) -> Option<&CqlValue> {
        let i = self.names.iter().position(|n| n == column)?;
        self.values.get(i)?.as_ref()
    }

    pub fn get_i64(&self, column: &str) -> Result<i64, ScyllaError> {
        self.get(column)
            .and_then(CqlValue::as_bigint)
            .ok_or_else(|| ScyllaError::Decode(format!("conditional result lacks {column}")))
    }
}

/// The outcome of a conditional statement.
pub fn applied(result: QueryResult) -> Result<Lwt, ScyllaError> {
    let rows = result.into_rows_result().map_err(|_| {
        ScyllaError::Decode(
            "a conditional statement returned no [applied] row: the server does not \
             support lightweight transactions"
                .into(),
        )
    })?;
    let names: Vec<String> = rows
        .column_specs()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let row: Row = rows
        .single_row()
        .map_err(|e| ScyllaError::Decode(format!("conditional result: {e}")))?;
    let current = CurrentRow {
        names,
        values: row.columns,
    };
    match current.get("[applied]") {
        Some(CqlValue::Boolean(true)) => Ok(Lwt::Applied),
        Some(CqlValue::Boolean(false)) => Ok(Lwt::NotApplied(current)),
        _ => Err(ScyllaError::Decode(
            "conditional result lacks [applied]".into(),
        )),
    }
}
