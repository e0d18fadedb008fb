CREATE TABLE "cart"."recovery_sweep" (
	"id" text PRIMARY KEY NOT NULL,
	"edge_at" timestamp (3) with time zone,
	"edge_id" text,
	"cursor_at" timestamp (3) with time zone,
	"cursor_id" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "carts_updated_idx" ON "cart"."carts" USING btree ("updated_at","id");