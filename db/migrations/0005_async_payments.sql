CREATE TABLE "payment"."webhook_inbox" (
	"event_id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"object_id" text,
	"checkout_id" text,
	"outcome" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "local_gateway"."operations" ADD COLUMN "reference" text;--> statement-breakpoint
CREATE INDEX "webhook_inbox_checkout_idx" ON "payment"."webhook_inbox" USING btree ("checkout_id");--> statement-breakpoint
CREATE INDEX "payments_gateway_ref_idx" ON "payment"."payments" USING btree ("gateway_ref");
