//! `ApiError` and `Violation`: the `Error` body Alumio sends with every non-200 reply.

use serde_json::Value;

use crate::lossless::lossless_object;

lossless_object! {
    /// The `Error` body of a failed request. `status` is the HTTP status as a string.
    ///
    /// ```
    /// use alumio_models::{ApiError, Violation};
    ///
    /// let error = ApiError::new(400, "Bad Request")
    ///     .with_detail("space must match ^[a-z0-9-]+$")
    ///     .with_violation(Violation::new("space", "may only hold a-z, 0-9 and '-'"));
    /// let json = serde_json::to_value(&error)?;
    /// assert_eq!(json["status"], "400");
    /// assert_eq!(json["violations"][0]["propertyPath"], "space");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct ApiError {
        /// The HTTP status code, as a string (`"404"`).
        status: String => "status",
        /// Extra context; any JSON (the schema says object).
        context: Value => "context",
        /// A URI or name for the kind of error.
        error_type: String => "type",
        /// A short summary.
        title: String => "title",
        /// What went wrong in this case.
        detail: String => "detail",
        /// The inputs that were rejected and why.
        violations: Vec<Violation> => "violations",
    }
}

lossless_object! {
    /// One rejected input of a request.
    pub struct Violation {
        /// What is wrong with it.
        title: String => "title",
        /// The input's name, such as `space`.
        property_path: String => "propertyPath",
        /// A URI or name for the kind of violation.
        violation_type: String => "type",
    }
}

impl ApiError {
    /// An error with a status code and a title.
    pub fn new(status: u16, title: impl Into<String>) -> Self {
        Self {
            status: Some(status.to_string()),
            title: Some(title.into()),
            ..Self::default()
        }
    }

    /// Sets what went wrong in this case.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets the kind of error.
    #[must_use]
    pub fn with_type(mut self, error_type: impl Into<String>) -> Self {
        self.error_type = Some(error_type.into());
        self
    }

    /// Adds a rejected input.
    #[must_use]
    pub fn with_violation(mut self, violation: Violation) -> Self {
        self.violations.get_or_insert_with(Vec::new).push(violation);
        self
    }

    /// The status as a number, when it is one.
    pub fn status_code(&self) -> Option<u16> {
        self.status.as_deref()?.parse().ok()
    }
}

impl Violation {
    /// A violation of the input `property_path`.
    pub fn new(property_path: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            property_path: Some(property_path.into()),
            title: Some(title.into()),
            ..Self::default()
        }
    }
}
