CREATE TABLE "catalog"."search_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"sku" text NOT NULL,
	"version" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "inventory"."stock" ADD COLUMN "version" bigint DEFAULT 1 NOT NULL;--> statement-breakpoint
CREATE INDEX "search_outbox_sku_idx" ON "catalog"."search_outbox" USING btree ("sku");--> statement-breakpoint
CREATE INDEX "stock_updated_at_idx" ON "inventory"."stock" USING btree ("updated_at");--> statement-breakpoint
-- Hand-written: every stock change moves version and updated_at, whichever statement made it
-- (holds, commits, releases, restocks, counts), so the search sync can find and order them.
CREATE FUNCTION "inventory"."stock_touch"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  NEW.updated_at := clock_timestamp();
  RETURN NEW;
END
$$;--> statement-breakpoint
CREATE TRIGGER "stock_touch" BEFORE UPDATE ON "inventory"."stock" FOR EACH ROW
  WHEN ((OLD.on_hand, OLD.reserved, OLD.sold) IS DISTINCT FROM (NEW.on_hand, NEW.reserved, NEW.sold))
  EXECUTE FUNCTION "inventory"."stock_touch"();--> statement-breakpoint
-- Hand-written: products that exist before search sync get indexed by the first drain.
INSERT INTO "catalog"."search_outbox" ("sku", "version") SELECT "sku", "version" FROM "catalog"."products";
