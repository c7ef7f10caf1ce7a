"""After a study: reports and figures from the journal, and Paraver traces (read, written, analysed)."""
