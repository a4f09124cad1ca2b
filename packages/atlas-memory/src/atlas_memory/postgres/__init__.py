"""The PostgreSQL store (psycopg 3, COPY for bulk writes, a connection pool)."""
