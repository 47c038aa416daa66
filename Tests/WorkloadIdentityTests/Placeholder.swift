// Placeholder: this suite's tests replace this file.
