CREATE TABLE "orders"."refund_line_claims" (
	"refund_id" text NOT NULL,
	"order_id" text NOT NULL,
	"sku" text NOT NULL,
	"quantity" integer NOT NULL,
	"restock_quantity" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "refund_line_claims_refund_id_sku_pk" PRIMARY KEY("refund_id","sku"),
	CONSTRAINT "refund_line_claims_quantities" CHECK ("orders"."refund_line_claims"."quantity" >= 0 and "orders"."refund_line_claims"."restock_quantity" >= 0 and "orders"."refund_line_claims"."restock_quantity" <= "orders"."refund_line_claims"."quantity")
);
--> statement-breakpoint
ALTER TABLE "orders"."checkouts" ADD COLUMN "frozen_cart" jsonb;--> statement-breakpoint
ALTER TABLE "orders"."order_lines" ADD COLUMN "refunded_quantity" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."order_lines" ADD COLUMN "restocked_quantity" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "notification"."outbox" ADD COLUMN "lease_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "notification"."outbox" ADD COLUMN "lease_token" text;--> statement-breakpoint
ALTER TABLE "orders"."refund_line_claims" ADD CONSTRAINT "refund_line_claims_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "orders"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders"."order_lines" ADD CONSTRAINT "order_lines_refunded_within_sold" CHECK ("orders"."order_lines"."refunded_quantity" >= 0 and "orders"."order_lines"."refunded_quantity" <= "orders"."order_lines"."quantity");--> statement-breakpoint
ALTER TABLE "orders"."order_lines" ADD CONSTRAINT "order_lines_restocked_within_refunded" CHECK ("orders"."order_lines"."restocked_quantity" >= 0 and "orders"."order_lines"."restocked_quantity" <= "orders"."order_lines"."refunded_quantity");