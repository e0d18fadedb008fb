CREATE SCHEMA "support";
--> statement-breakpoint
CREATE TABLE "catalog"."product_changes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"sku" text NOT NULL,
	"action" text NOT NULL,
	"version" bigint NOT NULL,
	"actor_id" text NOT NULL,
	"actor_name" text NOT NULL,
	"reason" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "inventory"."stock_changes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"sku" text NOT NULL,
	"on_hand_before" integer,
	"on_hand_after" integer NOT NULL,
	"reserved" integer NOT NULL,
	"actor_id" text NOT NULL,
	"actor_name" text NOT NULL,
	"reason" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "support"."tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"email" text,
	"roles" text[] NOT NULL,
	"token_hash" text NOT NULL,
	"token_hint" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	CONSTRAINT "tokens_roles_known" CHECK (cardinality("support"."tokens"."roles") > 0 and "support"."tokens"."roles" <@ array['support', 'operations', 'admin']::text[])
);
--> statement-breakpoint
ALTER TABLE "orders"."order_events" ADD COLUMN "actor_id" text;--> statement-breakpoint
ALTER TABLE "orders"."order_events" ADD COLUMN "actor_name" text;--> statement-breakpoint
CREATE INDEX "product_changes_sku_idx" ON "catalog"."product_changes" USING btree ("sku","id");--> statement-breakpoint
CREATE INDEX "stock_changes_sku_idx" ON "inventory"."stock_changes" USING btree ("sku","id");--> statement-breakpoint
CREATE UNIQUE INDEX "tokens_hash_uq" ON "support"."tokens" USING btree ("token_hash");