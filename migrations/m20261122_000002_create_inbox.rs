//! The inbox: email channels, customers and their addresses, conversations, messages,
//! attachments, the outbox, tags, notes and canned replies.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn org_fk(table: impl IntoIden + Clone + 'static, name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, Alias::new("organization_id"))
        .to(Alias::new("organizations"), Alias::new("id"))
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Channels::Table)
                    .col(big_pk_auto(Channels::Id))
                    .col(big_integer(Channels::OrganizationId))
                    .col(string(Channels::Name))
                    .col(string_uniq(Channels::InboundTokenHash))
                    .col(text(Channels::InboundTokenSealed))
                    .col(string_null(Channels::ImapHost))
                    .col(integer(Channels::ImapPort))
                    .col(string(Channels::ImapTls))
                    .col(string_null(Channels::ImapUser))
                    .col(text_null(Channels::ImapPasswordSealed))
                    .col(string(Channels::ImapFolder))
                    .col(string_null(Channels::ImapMoveTo))
                    .col(integer(Channels::PollSeconds))
                    .col(big_integer_null(Channels::ImapUidValidity))
                    .col(big_integer(Channels::ImapLastUid))
                    .col(timestamp_with_time_zone_null(Channels::LastPollAt))
                    .col(text_null(Channels::LastError))
                    .col(string_null(Channels::SmtpHost))
                    .col(integer(Channels::SmtpPort))
                    .col(string(Channels::SmtpTls))
                    .col(string_null(Channels::SmtpUser))
                    .col(text_null(Channels::SmtpPasswordSealed))
                    .col(string(Channels::FromName))
                    .col(string(Channels::FromAddress))
                    .col(timestamp_with_time_zone(Channels::CreatedAt))
                    .foreign_key(&mut org_fk(Channels::Table, "fk_channels_organization"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Customers::Table)
                    .col(big_pk_auto(Customers::Id))
                    .col(big_integer(Customers::OrganizationId))
                    .col(string(Customers::DisplayName))
                    .col(timestamp_with_time_zone(Customers::CreatedAt))
                    .foreign_key(&mut org_fk(Customers::Table, "fk_customers_organization"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CustomerEmails::Table)
                    .col(big_pk_auto(CustomerEmails::Id))
                    .col(big_integer(CustomerEmails::OrganizationId))
                    .col(big_integer(CustomerEmails::CustomerId))
                    .col(string(CustomerEmails::Email))
                    .foreign_key(&mut org_fk(
                        CustomerEmails::Table,
                        "fk_customer_emails_organization",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_customer_emails_customer")
                            .from(CustomerEmails::Table, CustomerEmails::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "ux_customer_emails_org_email",
            CustomerEmails::Table,
            &[CustomerEmails::OrganizationId, CustomerEmails::Email],
        )
        .await?;
        index(
            manager,
            "ix_customer_emails_customer",
            CustomerEmails::Table,
            &[CustomerEmails::CustomerId],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .col(big_pk_auto(Conversations::Id))
                    .col(big_integer(Conversations::OrganizationId))
                    .col(big_integer_null(Conversations::ChannelId))
                    .col(big_integer(Conversations::CustomerId))
                    .col(string(Conversations::Token))
                    .col(text(Conversations::Subject))
                    .col(string(Conversations::Status))
                    .col(big_integer_null(Conversations::AssigneeId))
                    .col(integer(Conversations::MessageCount))
                    .col(timestamp_with_time_zone(Conversations::CreatedAt))
                    .col(timestamp_with_time_zone(Conversations::LastActivityAt))
                    .col(timestamp_with_time_zone_null(Conversations::ClosedAt))
                    .foreign_key(&mut org_fk(
                        Conversations::Table,
                        "fk_conversations_organization",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversations_customer")
                            .from(Conversations::Table, Conversations::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversations_channel")
                            .from(Conversations::Table, Conversations::ChannelId)
                            .to(Channels::Table, Channels::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversations_assignee")
                            .from(Conversations::Table, Conversations::AssigneeId)
                            .to(Alias::new("users"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "ux_conversations_org_token",
            Conversations::Table,
            &[Conversations::OrganizationId, Conversations::Token],
        )
        .await?;
        index(
            manager,
            "ix_conversations_list",
            Conversations::Table,
            &[
                Conversations::OrganizationId,
                Conversations::Status,
                Conversations::LastActivityAt,
                Conversations::Id,
            ],
        )
        .await?;
        index(
            manager,
            "ix_conversations_activity",
            Conversations::Table,
            &[
                Conversations::OrganizationId,
                Conversations::LastActivityAt,
                Conversations::Id,
            ],
        )
        .await?;
        index(
            manager,
            "ix_conversations_customer",
            Conversations::Table,
            &[Conversations::CustomerId],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .col(big_pk_auto(Messages::Id))
                    .col(big_integer(Messages::OrganizationId))
                    .col(big_integer(Messages::ConversationId))
                    .col(string(Messages::Direction))
                    .col(string(Messages::Kind))
                    .col(string(Messages::MessageIdHeader))
                    .col(text(Messages::InReplyTo))
                    .col(text(Messages::ReferencesHeader))
                    .col(string(Messages::FromName))
                    .col(string(Messages::FromAddress))
                    .col(text(Messages::ToAddresses))
                    .col(text(Messages::CcAddresses))
                    .col(text(Messages::Subject))
                    .col(text(Messages::TextBody))
                    .col(text_null(Messages::HtmlBody))
                    .col(text(Messages::ParseNotes))
                    .col(big_integer_null(Messages::AuthorId))
                    .col(string_null(Messages::DeliveryStatus))
                    .col(text_null(Messages::DeliveryError))
                    .col(timestamp_with_time_zone_null(Messages::SentAt))
                    .col(timestamp_with_time_zone(Messages::CreatedAt))
                    .foreign_key(&mut org_fk(Messages::Table, "fk_messages_organization"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_messages_conversation")
                            .from(Messages::Table, Messages::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_messages_author")
                            .from(Messages::Table, Messages::AuthorId)
                            .to(Alias::new("users"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "ux_messages_org_message_id",
            Messages::Table,
            &[Messages::OrganizationId, Messages::MessageIdHeader],
        )
        .await?;
        index(
            manager,
            "ix_messages_conversation",
            Messages::Table,
            &[Messages::ConversationId, Messages::Id],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Attachments::Table)
                    .col(big_pk_auto(Attachments::Id))
                    .col(big_integer(Attachments::OrganizationId))
                    .col(big_integer(Attachments::MessageId))
                    .col(string(Attachments::Filename))
                    .col(string(Attachments::ContentType))
                    .col(string_null(Attachments::ContentId))
                    .col(boolean(Attachments::Inline))
                    .col(big_integer(Attachments::Size))
                    .col(string(Attachments::BlobId))
                    .foreign_key(&mut org_fk(
                        Attachments::Table,
                        "fk_attachments_organization",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_attachments_message")
                            .from(Attachments::Table, Attachments::MessageId)
                            .to(Messages::Table, Messages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_attachments_message",
            Attachments::Table,
            &[Attachments::MessageId],
        )
        .await?;
        index(
            manager,
            "ix_attachments_blob",
            Attachments::Table,
            &[Attachments::BlobId],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(big_pk_auto(Outbox::Id))
                    .col(big_integer(Outbox::OrganizationId))
                    .col(big_integer(Outbox::MessageId))
                    .col(big_integer(Outbox::ChannelId))
                    .col(integer(Outbox::Attempts))
                    .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                    .col(text_null(Outbox::LastError))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .foreign_key(&mut org_fk(Outbox::Table, "fk_outbox_organization"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outbox_message")
                            .from(Outbox::Table, Outbox::MessageId)
                            .to(Messages::Table, Messages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outbox_channel")
                            .from(Outbox::Table, Outbox::ChannelId)
                            .to(Channels::Table, Channels::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_outbox_due",
            Outbox::Table,
            &[Outbox::NextAttemptAt],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Tags::Table)
                    .col(big_pk_auto(Tags::Id))
                    .col(big_integer(Tags::OrganizationId))
                    .col(string(Tags::Name))
                    .foreign_key(&mut org_fk(Tags::Table, "fk_tags_organization"))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "ux_tags_org_name",
            Tags::Table,
            &[Tags::OrganizationId, Tags::Name],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConversationTags::Table)
                    .col(big_integer(ConversationTags::ConversationId))
                    .col(big_integer(ConversationTags::TagId))
                    .primary_key(
                        Index::create()
                            .col(ConversationTags::ConversationId)
                            .col(ConversationTags::TagId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversation_tags_conversation")
                            .from(ConversationTags::Table, ConversationTags::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversation_tags_tag")
                            .from(ConversationTags::Table, ConversationTags::TagId)
                            .to(Tags::Table, Tags::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_conversation_tags_tag",
            ConversationTags::Table,
            &[ConversationTags::TagId],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(CannedReplies::Table)
                    .col(big_pk_auto(CannedReplies::Id))
                    .col(big_integer(CannedReplies::OrganizationId))
                    .col(string(CannedReplies::Title))
                    .col(text(CannedReplies::Body))
                    .foreign_key(&mut org_fk(
                        CannedReplies::Table,
                        "fk_canned_replies_organization",
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CannedReplies::Table.into_iden(),
            ConversationTags::Table.into_iden(),
            Tags::Table.into_iden(),
            Outbox::Table.into_iden(),
            Attachments::Table.into_iden(),
            Messages::Table.into_iden(),
            Conversations::Table.into_iden(),
            CustomerEmails::Table.into_iden(),
            Customers::Table.into_iden(),
            Channels::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn index<T: IntoIden + Clone + 'static, C: IntoIden + Clone + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: &[C],
) -> Result<(), DbErr> {
    let mut statement = Index::create().name(name).table(table).to_owned();
    for col in cols {
        statement.col(col.clone());
    }
    manager.create_index(statement).await
}

async fn unique<T: IntoIden + Clone + 'static, C: IntoIden + Clone + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: &[C],
) -> Result<(), DbErr> {
    let mut statement = Index::create().name(name).table(table).unique().to_owned();
    for col in cols {
        statement.col(col.clone());
    }
    manager.create_index(statement).await
}

#[derive(DeriveIden, Clone)]
enum Channels {
    Table,
    Id,
    OrganizationId,
    Name,
    InboundTokenHash,
    InboundTokenSealed,
    ImapHost,
    ImapPort,
    ImapTls,
    ImapUser,
    ImapPasswordSealed,
    ImapFolder,
    ImapMoveTo,
    PollSeconds,
    ImapUidValidity,
    ImapLastUid,
    LastPollAt,
    LastError,
    SmtpHost,
    SmtpPort,
    SmtpTls,
    SmtpUser,
    SmtpPasswordSealed,
    FromName,
    FromAddress,
    CreatedAt,
}

#[derive(DeriveIden, Clone)]
enum Customers {
    Table,
    Id,
    OrganizationId,
    DisplayName,
    CreatedAt,
}

#[derive(DeriveIden, Clone)]
enum CustomerEmails {
    Table,
    Id,
    OrganizationId,
    CustomerId,
    Email,
}

#[derive(DeriveIden, Clone)]
enum Conversations {
    Table,
    Id,
    OrganizationId,
    ChannelId,
    CustomerId,
    Token,
    Subject,
    Status,
    AssigneeId,
    MessageCount,
    CreatedAt,
    LastActivityAt,
    ClosedAt,
}

#[derive(DeriveIden, Clone)]
enum Messages {
    Table,
    Id,
    OrganizationId,
    ConversationId,
    Direction,
    Kind,
    MessageIdHeader,
    InReplyTo,
    ReferencesHeader,
    FromName,
    FromAddress,
    ToAddresses,
    CcAddresses,
    Subject,
    TextBody,
    HtmlBody,
    ParseNotes,
    AuthorId,
    DeliveryStatus,
    DeliveryError,
    SentAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone)]
enum Attachments {
    Table,
    Id,
    OrganizationId,
    MessageId,
    Filename,
    ContentType,
    ContentId,
    Inline,
    Size,
    BlobId,
}

#[derive(DeriveIden, Clone)]
enum Outbox {
    Table,
    Id,
    OrganizationId,
    MessageId,
    ChannelId,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
}

#[derive(DeriveIden, Clone)]
enum Tags {
    Table,
    Id,
    OrganizationId,
    Name,
}

#[derive(DeriveIden, Clone)]
enum ConversationTags {
    Table,
    ConversationId,
    TagId,
}

#[derive(DeriveIden, Clone)]
enum CannedReplies {
    Table,
    Id,
    OrganizationId,
    Title,
    Body,
}
