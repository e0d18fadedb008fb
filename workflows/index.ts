// Re-exports every workflow for the worker bundle.
export {};
