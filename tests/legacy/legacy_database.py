"""The earlier GOMFLOW schema and a messy data set, written into a throw-away PostgreSQL database.

Ids are fixed so the tests can name rows: users 1…, orders 2…, submissions 3…, transactions 4…,
payment_methods 5…, proofs 6…. Proof files live at ``{files}``, the local HTTP server the tests
start (tests/legacy/proof_server.py); one URL points at a closed port (unreachable).
"""

import psycopg

SCHEMA = """
CREATE TYPE submission_status AS ENUM ('pending', 'paid', 'failed', 'expired', 'cancelled');
CREATE TYPE payment_method_type AS ENUM (
    'gcash', 'paymaya', 'maya', 'bpi', 'bdo', 'maybank2u', 'cimb', 'tng', 'touch_n_go', 'boost'
);
CREATE TYPE proof_status AS ENUM ('pending', 'approved', 'rejected', 'flagged', 'requires_review');

CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text,
    name text,
    username text,
    phone text,
    country char(2),
    timezone text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    title text,
    description text,
    price numeric(10, 2) NOT NULL,
    currency text NOT NULL,
    deadline timestamptz,
    slug text UNIQUE,
    payment_methods jsonb,
    is_active boolean NOT NULL DEFAULT true,
    min_orders integer,
    max_orders integer,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE submissions (
    id uuid PRIMARY KEY,
    order_id uuid NOT NULL REFERENCES orders (id),
    buyer_name text,
    buyer_phone text,
    buyer_email text,
    quantity integer NOT NULL,
    total_amount numeric(10, 2) NOT NULL,
    currency text NOT NULL,
    payment_reference text UNIQUE,
    status submission_status NOT NULL DEFAULT 'pending',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE payment_transactions (
    id uuid PRIMARY KEY,
    submission_id uuid NOT NULL REFERENCES submissions (id),
    gateway text,
    gateway_payment_id text,
    amount numeric(10, 2) NOT NULL,
    currency text NOT NULL,
    payment_method text,
    paid_at timestamptz
);
CREATE TABLE payment_methods (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    method_type payment_method_type NOT NULL,
    display_name text,
    account_number text,
    account_name text,
    bank_name text,
    qr_code_url text,
    instructions text,
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE payment_proofs (
    id uuid PRIMARY KEY,
    submission_id uuid NOT NULL REFERENCES submissions (id),
    payment_method_id uuid REFERENCES payment_methods (id),
    file_url text,
    file_name text,
    file_size integer,
    file_type text,
    verification_status proof_status NOT NULL DEFAULT 'pending',
    verified_by uuid REFERENCES users (id),
    verified_at timestamptz,
    rejection_reason text,
    extracted_amount numeric(10, 2),
    extracted_reference text
);
"""


def uid(prefix: int, number: int) -> str:
    return f"{str(prefix) * 8}-0000-0000-0000-{number:012d}"


DATA = f"""
INSERT INTO users (id, email, name, username, phone, country, timezone, created_at) VALUES
 ('{uid(1, 1)}', 'Gom.Ana@Example.com', 'Ana Cruz', 'ana', '0917 123 4567', 'PH', 'Asia/Manila', '2025-01-01 00:00+00'),
 ('{uid(1, 2)}', 'ben@example.my', 'Ben Lee', 'ben', NULL, 'MY', 'Asia/Kuala_Lumpur', '2025-01-02 00:00+00'),
 ('{uid(1, 3)}', NULL, 'No Mail GOM', 'nomail', NULL, NULL, NULL, '2025-01-03 00:00+00'),
 ('{uid(1, 4)}', 'gom.ana@example.com', 'Ana again', 'ana2', NULL, 'PH', NULL, '2025-01-04 00:00+00'),
 ('{uid(1, 5)}', 'Existing.Gom@example.test', 'Existing GOM', 'old', NULL, 'PH', NULL, '2025-01-05 00:00+00');

INSERT INTO payment_methods (id, user_id, method_type, display_name, account_number, account_name,
                             bank_name, qr_code_url, instructions, is_active, created_at) VALUES
 ('{uid(5, 1)}', '{uid(1, 1)}', 'gcash', 'GCash Ana', '0917-123-4567', 'Ana Cruz', NULL, NULL,
  'Send the exact amount', true, '2025-01-10 00:00+00'),
 ('{uid(5, 2)}', '{uid(1, 2)}', 'touch_n_go', 'TnG Ben', '+60 12-345 6789', 'Ben Lee', NULL, NULL,
  NULL, true, '2025-01-11 00:00+00'),
 ('{uid(5, 3)}', '{uid(1, 2)}', 'boost', NULL, '0123456789', 'Ben Lee', NULL,
  'https://old.gomflow.example/qr/ben-boost.png', NULL, false, '2025-01-12 00:00+00'),
 ('{uid(5, 4)}', '{uid(1, 1)}', 'maya', 'Maya', '123', 'Ana Cruz', NULL, NULL, NULL, true,
  '2025-01-13 00:00+00'),
 ('{uid(5, 5)}', '{uid(1, 3)}', 'cimb', 'CIMB', '8001234567', 'No Mail', NULL, NULL, NULL, true,
  '2025-01-14 00:00+00');

INSERT INTO orders (id, user_id, title, description, price, currency, deadline, slug, payment_methods,
                    is_active, min_orders, max_orders, created_at) VALUES
 ('{uid(2, 1)}', '{uid(1, 1)}', 'SEVENTEEN album GO', 'Ships in May', 1250.00, 'PHP',
  '2025-03-01 12:00+00', 'svt-album',
  '[{{"type": "GCash", "number": "0917 123 4567", "name": "Ana Cruz"}},
    {{"Type": "gcash", "Number": "09171234567", "Name": "Ana Cruz"}},
    {{"method": "bank", "bank": "BPI", "account_no": "1234-5678-90", "account_name": "Ana Cruz"}},
    {{"type": "PayPal", "email": "ana@example.com"}},
    "GCash 0917 123 4567"]',
  true, 10, 200, '2025-02-01 00:00+00'),
 ('{uid(2, 2)}', '{uid(1, 2)}', 'Photocard set MY', NULL, 45.50, 'MYR', '2025-03-02 12:00+00', 'pc-my',
  '[{{"type": "Touch ''n Go", "number": "012-345 6789", "name": "Ben Lee"}},
    {{"type": "maybank2u", "account_number": "1140 1234 5678", "account_name": "Ben Lee"}}]',
  false, NULL, NULL, '2025-02-02 00:00+00'),
 ('{uid(2, 3)}', '{uid(1, 3)}', 'Lightstick GO', NULL, 300.00, 'PHP', NULL, 'lightstick', NULL,
  true, NULL, NULL, '2025-02-03 00:00+00'),
 ('{uid(2, 4)}', '{uid(1, 1)}', 'US import', NULL, 10.00, 'USD', '2025-03-04 12:00+00', 'us', NULL,
  true, NULL, NULL, '2025-02-04 00:00+00'),
 ('{uid(2, 5)}', '{uid(1, 2)}', 'Free poster', NULL, 0.00, 'MYR', '2025-03-05 12:00+00', 'poster',
  NULL, true, NULL, NULL, '2025-02-05 00:00+00'),
 ('{uid(2, 6)}', '{uid(1, 5)}', 'Keyring GO', NULL, 99.99, 'PHP', '2025-03-06 12:00+00', 'keyring',
  '[{{"type": "maya", "number": "0918 765 4321", "name": "Existing GOM"}}]',
  true, NULL, NULL, '2025-02-06 00:00+00');

INSERT INTO submissions (id, order_id, buyer_name, buyer_phone, buyer_email, quantity, total_amount,
                         currency, payment_reference, status, created_at) VALUES
 ('{uid(3, 1)}', '{uid(2, 1)}', 'Carla', '0917 000 0001', 'Carla@Mail.com', 2, 2500.00, 'PHP',
  'GF-0001', 'paid', '2025-02-10 00:00+00'),
 ('{uid(3, 2)}', '{uid(2, 1)}', 'Dan', NULL, NULL, 1, 1250.00, 'PHP', 'GF-0002', 'pending',
  '2025-02-11 00:00+00'),
 ('{uid(3, 3)}', '{uid(2, 1)}', 'carla', NULL, 'carla@mail.com', 1, 1250.00, 'php', 'GF-0003',
  'failed', '2025-02-12 00:00+00'),
 ('{uid(3, 4)}', '{uid(2, 2)}', 'Eve', NULL, 'eve@mail.my', 3, 136.50, 'MYR', 'GF-0004', 'paid',
  '2025-02-13 00:00+00'),
 ('{uid(3, 5)}', '{uid(2, 2)}', 'Eve', NULL, 'eve@mail.my', 1, 45.50, 'MYR', 'GF-0005', 'cancelled',
  '2025-02-14 00:00+00'),
 ('{uid(3, 6)}', '{uid(2, 3)}', 'Fay', NULL, 'gom.ana@example.com', 1, 300.00, 'PHP', 'GF-0006',
  'expired', '2025-02-15 00:00+00'),
 ('{uid(3, 7)}', '{uid(2, 4)}', 'Gus', NULL, 'gus@mail.com', 1, 10.00, 'USD', 'GF-0007', 'pending',
  '2025-02-16 00:00+00'),
 ('{uid(3, 8)}', '{uid(2, 1)}', 'Hal', NULL, 'hal@mail.com', 0, 1250.00, 'PHP', 'GF-0008', 'pending',
  '2025-02-17 00:00+00'),
 ('{uid(3, 9)}', '{uid(2, 1)}', 'Dan', NULL, 'dan@mail.com', 1, 1000.00, 'PHP', 'GF-0009', 'pending',
  '2025-02-18 00:00+00'),
 ('{uid(3, 10)}', '{uid(2, 6)}', 'Ivy', NULL, 'Existing.Buyer@example.test', 1, 99.99, 'PHP',
  'GF-0010', 'pending', '2025-02-19 00:00+00'),
 ('{uid(3, 11)}', '{uid(2, 1)}', 'Jo', NULL, 'jo@mail.com', 2, 2500.00, 'PHP', 'GF-0011', 'paid',
  '2025-02-20 00:00+00'),
 ('{uid(3, 12)}', '{uid(2, 2)}', 'Kai', NULL, 'kai@mail.my', 1, 45.50, 'MYR', 'GF-0012', 'paid',
  '2025-02-21 00:00+00'),
 ('{uid(3, 13)}', '{uid(2, 1)}', 'Lia', NULL, 'lia@mail.com', 1, 1250.00, 'PHP', 'GF-0013', 'paid',
  '2025-02-22 00:00+00'),
 ('{uid(3, 14)}', '{uid(2, 3)}', 'Max', NULL, 'max@mail.com', 1, 300.00, 'PHP', 'GF-0014', 'pending',
  '2025-02-23 00:00+00');

-- Gateway rows as the earlier platform's webhooks left them: a redelivered webhook (same gateway
-- id twice), a deposit and its balance, free-text method names, lower-case currency, a row with
-- no paid_at, a payment on a cancelled order, an overpayment, one on a refused submission.
INSERT INTO payment_transactions (id, submission_id, gateway, gateway_payment_id, amount, currency,
                                  payment_method, paid_at) VALUES
 ('{uid(4, 1)}', '{uid(3, 1)}', 'paymongo', 'pay_123', 2500.00, 'PHP', 'gcash', '2025-02-10 08:30+00'),
 ('{uid(4, 2)}', '{uid(3, 1)}', 'PayMongo', 'pay_123', 2500.00, 'PHP', 'gcash', '2025-02-10 08:31+00'),
 ('{uid(4, 3)}', '{uid(3, 5)}', 'billplz', 'bp_55', 45.50, 'MYR', 'fpx', '2025-02-14 09:00+00'),
 ('{uid(4, 4)}', '{uid(3, 7)}', 'paymongo', 'pay_777', 10.00, 'USD', 'card', '2025-02-16 09:00+00'),
 ('{uid(4, 5)}', '{uid(3, 11)}', 'paymongo', 'pay_456', 1000.00, 'php', 'GCash', '2025-02-20 10:00+00'),
 ('{uid(4, 6)}', '{uid(3, 11)}', 'paymongo', 'pay_789', 1500.00, 'PHP', 'card', '2025-02-25 10:00+00'),
 ('{uid(4, 7)}', '{uid(3, 11)}', 'paymongo', 'pay_790', 1500.00, 'PHP', 'card', '2025-02-26 10:00+00'),
 ('{uid(4, 8)}', '{uid(3, 13)}', 'paymongo', 'pay_800', 500.00, 'PHP', 'Maya', '2025-02-22 11:00+00'),
 ('{uid(4, 9)}', '{uid(3, 13)}', 'paymongo', 'pay_801', 750.00, 'PHP', 'Maya', NULL);

INSERT INTO payment_proofs (id, submission_id, payment_method_id, file_url, file_name, file_size,
                            file_type, verification_status, verified_by, verified_at,
                            rejection_reason, extracted_amount, extracted_reference) VALUES
 ('{uid(6, 1)}', '{uid(3, 2)}', '{uid(5, 1)}', 'http://127.0.0.1:9/proofs/dan.jpg', 'dan.jpg',
  120000, 'image/jpeg', 'pending', NULL, NULL, NULL, NULL, NULL),
 ('{uid(6, 2)}', '{uid(3, 3)}', '{uid(5, 1)}', '{{files}}/proofs/carla-rejected.png', 'carla.png',
  2048, 'image/png', 'rejected', '{uid(1, 1)}', '2025-02-12 12:00+00',
  'Amount does not match the order', 1200.00, '5012345678901'),
 ('{uid(6, 3)}', '{uid(3, 9)}', '{uid(5, 1)}', '{{files}}/proofs/dan-review.jpg', 'IMG_0042.JPG',
  4096, 'image/jpeg', 'requires_review', NULL, NULL, NULL, 1000.00, '7001234567890'),
 ('{uid(6, 4)}', '{uid(3, 12)}', '{uid(5, 2)}', '{{files}}/proofs/kai-approved.png', NULL, NULL,
  NULL, 'approved', '{uid(1, 2)}', '2025-02-21 15:00+00', NULL, 45.50, 'TNG-778899'),
 ('{uid(6, 5)}', '{uid(3, 14)}', NULL, '{{files}}/proofs/max-flagged.png', 'max.png', 512,
  'image/png', 'flagged', NULL, NULL, NULL, NULL, NULL),
 ('{uid(6, 6)}', '{uid(3, 7)}', NULL, '{{files}}/proofs/gone.png', 'gus.png', 100, 'image/png',
  'approved', '{uid(1, 1)}', '2025-02-16 12:00+00', NULL, 10.00, NULL);
"""


def write_legacy_database(url: str, files: str) -> None:
    """Create the legacy schema and its messy rows in the (empty) database at ``url``; proof
    files are addressed on ``files`` (the base URL of the test's HTTP server)."""
    with psycopg.connect(url) as connection:
        connection.execute(SCHEMA)
        connection.execute(DATA.replace("{files}", files))
