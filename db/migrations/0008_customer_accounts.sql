CREATE SCHEMA "customer";
--> statement-breakpoint
CREATE TABLE "customer"."customers" (
	"id" text PRIMARY KEY NOT NULL,
	"email" text NOT NULL,
	"password_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"password_changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "customers_id_shape" CHECK ("customer"."customers"."id" ~ '^cus_[A-Za-z0-9_-]{22}$')
);
--> statement-breakpoint
ALTER TABLE "orders"."checkouts" ADD COLUMN "customer_id" text;--> statement-breakpoint
CREATE UNIQUE INDEX "customers_email_lower_uq" ON "customer"."customers" USING btree (lower("email"));--> statement-breakpoint
CREATE INDEX "carts_customer_idx" ON "cart"."carts" USING btree ("customer_id");