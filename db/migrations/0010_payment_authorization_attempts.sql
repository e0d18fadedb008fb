CREATE TABLE "payment"."authorization_attempts" (
	"idempotency_key" text PRIMARY KEY NOT NULL,
	"checkout_id" text NOT NULL,
	"fate" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"gateway_ref" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempted_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "authorization_attempts_fate_known" CHECK ("payment"."authorization_attempts"."fate" in ('attempted', 'abandoned', 'voided'))
);
