"""Job postings, applications, CV storage and the applicant pipeline."""
