-- Reviewed: text 'false' default cannot be cast in place; drop it, convert, set the boolean default.
ALTER TABLE "payment"."refunds" ALTER COLUMN "restock" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "payment"."refunds" ALTER COLUMN "restock" SET DATA TYPE boolean USING "restock"::boolean;--> statement-breakpoint
ALTER TABLE "payment"."refunds" ALTER COLUMN "restock" SET DEFAULT false;--> statement-breakpoint
CREATE INDEX "refunds_payment_idx" ON "payment"."refunds" USING btree ("payment_id");--> statement-breakpoint
ALTER TABLE "payment"."refunds" ADD CONSTRAINT "refunds_status_known" CHECK ("payment"."refunds"."status" in ('pending', 'succeeded', 'failed'));